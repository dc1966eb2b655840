//! `image-builder sandbox`: the bot in a terminal against the built-in simulator, no account
//! needed. Lines typed (or piped) are commands from the console user, who holds every
//! permission here. When input ends it finishes the jobs it has, prints their summaries and
//! exits 0, so a script can be piped in.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use tokio::io::AsyncBufReadExt;

use super::shell::Line;
use super::{config, ConfigArgs, Failure, Outcome};
use crate::bot::Bot;
use crate::chat::console::Console;
use crate::chat::terminal::{render, Rendered, Style};
use crate::chat::Incoming;
use crate::engine::Engine;
use crate::launchpad::models::OCI_BUILD_EVENT;
use crate::launchpad::sim::scenario::Scenario;
use crate::launchpad::sim::{Apart, SimSettings};
use crate::launchpad::Client;
use crate::messages;
use crate::permissions::User;
use crate::secret::Secret;
use crate::store::Store;

/// The sandbox's scenario unless `--scenario` names another: enough failure to see alerts,
/// auto-retry and `retry uploads` at work.
pub const DEFAULT_SCENARIO: &str = r#"
seed = 42

# Every image is pushed to two registries, as the team's are: Docker Hub and a cloud registry.
[[registries]]
url = "https://registry-1.docker.io"
image_name = "ubuntu/{image}"
[[registries]]
url = "https://public.ecr.aws"
image_name = "lts/{image}"

# redis's arm64 push to the cloud registry fails once: an alert, then `retry uploads #N` fixes it.
[[outcomes]]
image = "redis"
arch = "arm64"
upload_failures = 1
failing_registries = ["https://public.ecr.aws"]

# nginx 22.04's s390x upload fails twice on both registries. As on Launchpad, a build whose
# pushes failed on several registries cannot be shown (its entry answers 500) until its next
# upload: the bot tells it from the deliveries, and `--auto-retry-uploads` (or `retry uploads
# #N`) recovers it on the third try.
[[outcomes]]
image = "nginx"
series = "22.04"
arch = "s390x"
upload_failures = 2

# mysql 20.04's amd64 build is made, but Launchpad fails to take its files in (the build state
# "Failed to upload"): the summary quotes the upload log, and `retry builds #N` builds it again.
[[outcomes]]
image = "mysql"
series = "20.04"
arch = "amd64"
processing_failures = 1

# squid 24.04's ppc64el build fails: `retry builds #N` shows up in the summary.
[[outcomes]]
image = "squid"
series = "24.04"
arch = "ppc64el"
build_failures = 1

# Someone requests postgres 22.04 on amd64 from Launchpad's web UI, and both of its pushes
# fail (so Launchpad cannot show the build): nobody asked the bot for it, and the webhook
# listener still hears of it and alerts, with a Retry button that works.
[[outcomes]]
image = "postgres"
series = "22.04"
arch = "amd64"
upload_failures = "always"

[[foreign_builds]]
image = "postgres"
series = "22.04"
arch = "amd64"
after_minutes = 2
"#;

/// Where the sandbox's lines come from.
enum Input {
    /// A terminal's prompt.
    Prompt(super::shell::Prompt),
    /// Piped lines.
    Lines(tokio::io::Lines<tokio::io::BufReader<tokio::io::Stdin>>),
}

impl Input {
    async fn next(&mut self) -> std::io::Result<Line> {
        match self {
            Input::Prompt(prompt) => Ok(prompt.next().await),
            Input::Lines(lines) => Ok(match lines.next_line().await? {
                Some(line) => Line::Text(line),
                None => Line::End,
            }),
        }
    }
}

/// Where the sandbox's words go: above the prompt, or to standard output.
#[derive(Clone)]
enum Screen {
    Above(super::shell::Above),
    Stdout,
}

impl Write for Screen {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        match self {
            Screen::Above(above) => above.write(bytes),
            Screen::Stdout => std::io::stdout().write(bytes),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Screen::Above(above) => above.flush(),
            Screen::Stdout => std::io::stdout().flush(),
        }
    }
}

/// The console's one channel.
const CHANNEL: &str = "console";

/// `image-builder sandbox`.
#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// How much faster than Launchpad the simulator runs (builds take 5 to 30 minutes at 1).
    #[arg(long, value_name = "X", default_value_t = 100.0)]
    pub speed: f64,
    /// Outcomes and faults to play instead of the default scenario (a TOML file).
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<PathBuf>,
    /// Keep the job store here (default: a temporary one, gone at exit).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// Runs the sandbox until input ends (or Ctrl-C).
pub async fn run(args: &SandboxArgs) -> Outcome {
    let mut config = config(&args.config)?;
    if !(args.speed.is_finite() && args.speed >= 1.0) {
        return Err(Failure::usage(messages::speed_below_one(args.speed)));
    }
    let scenario = match &args.scenario {
        Some(path) => Scenario::load(path)?,
        None => toml::from_str(DEFAULT_SCENARIO).expect("the default scenario is valid"),
    };
    let mut settings = SimSettings::new(config.catalogue.clone());
    settings.speed = Some(args.speed);
    settings.scenario = scenario;
    settings.auto_authorize = true;
    let sim = Apart::start(settings).await?;

    let store = match &args.data_dir {
        Some(dir) => Store::open(dir)?,
        None => Store::temporary()?,
    };
    // The console's message ids continue after those a kept store remembers.
    let first_id = 1 + 1000 * store.last_job_id()?;
    // Chat messages are Markdown; the terminal shows them as text (the echo of a typed line is
    // printed as typed).
    let style = Style::of(&std::io::stdout());
    // On a terminal, a prompt with line editing and history, and the bot's words above it;
    // piped, lines in and text out.
    let interactive = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let (mut input, screen) = if interactive {
        let (prompt, above) = super::shell::start(format!("{}> ", config.console.user))?;
        (Input::Prompt(prompt), Screen::Above(above))
    } else {
        let lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
        (Input::Lines(lines), Screen::Stdout)
    };
    let show = |markdown: String| {
        let mut screen = screen.clone();
        let _ = writeln!(screen, "{}", render(&markdown, style));
        let _ = screen.flush();
    };
    let mut console = Console::with_first_id(Rendered::new(screen.clone(), style), first_id);
    if interactive {
        console = console.with_brief_edits();
    }
    let mut client_settings = config.launchpad.client_settings(Some(sim.credentials()));
    client_settings.api_root = sim.api_root();
    let client = Client::new(client_settings)?;
    // The sandbox listens for the simulator's deliveries.
    let mut settings = crate::engine::EngineSettings::with_webhooks(&config, args.speed);
    // Alerts for builds nobody asked for go to the console too.
    settings.alerts_channel = Some(CHANNEL.to_string());
    settings.web_root = Some(sim.web_root());
    let engine = Engine::new(client.clone(), store, console.clone(), settings);
    // The webhook listener, on a free port, registered on every recipe of the simulator.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let delivery_url = format!("http://{}{}", listener.local_addr()?, crate::webhook::PATH);
    let secret = Secret::new(format!("sandbox-{}", std::process::id()));
    tokio::spawn(crate::webhook::serve(
        listener,
        secret.clone(),
        engine.clone(),
        sim.api_root(),
        crate::serve::Limits::default(),
        std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true)),
        axum::Router::new(),
    ));
    for image in &config.catalogue.images {
        for track in &image.tracks {
            let recipe = client.recipe_url(&track.recipe);
            client
                .new_webhook(&recipe, &delivery_url, &[OCI_BUILD_EVENT], Some(&secret))
                .await?;
        }
    }

    // Here the console user may do everything.
    let user = User {
        id: config.console.user.clone(),
        roles: config.console.roles.clone(),
        ..User::default()
    };
    for rule in [
        &mut config.permissions.read,
        &mut config.permissions.build,
        &mut config.permissions.mass_rebuild,
    ] {
        rule.users.insert(user.id.clone());
    }
    // The dashboard, on a free loopback port.
    let web = crate::config::WebConfig {
        listen: ([127, 0, 0, 1], 0).into(),
        behind_proxy: false,
    };
    let dashboard = crate::web::start(&web, engine.store().clone(), config.catalogue.clone())
        .await
        .map_err(Failure::failed)?;
    let bot = Bot::new(config, sim.api_root(), engine.clone(), console);
    let resumed = engine.resume().await?;
    show(messages::sandbox_greeting(
        &user.id,
        args.speed,
        &sim.web_root(),
        Some(&dashboard),
        resumed,
    ));

    let echo = !interactive && !std::io::stdin().is_terminal();
    loop {
        let line = tokio::select! {
            line = input.next() => line?,
            _ = tokio::signal::ctrl_c() => Line::Interrupted,
        };
        let line = match line {
            Line::Text(line) => line,
            Line::End => break,
            Line::Interrupted => {
                show(messages::sandbox_interrupted(args.data_dir.is_some()));
                return Ok(ExitCode::from(130));
            }
        };
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        if echo {
            println!("{}> {text}", user.id);
        }
        bot.handle(Incoming {
            user: user.clone(),
            channel: CHANNEL.into(),
            text: text.to_string(),
        })
        .await;
    }
    let running = engine.running();
    if running > 0 {
        show(messages::sandbox_finishing(running));
        tokio::select! {
            _ = engine.wait_idle() => {}
            _ = tokio::signal::ctrl_c() => {
                show(messages::sandbox_interrupted(args.data_dir.is_some()));
                return Ok(ExitCode::from(130));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
