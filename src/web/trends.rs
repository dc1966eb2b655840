//! The trends of the last 90 days, drawn on the server as SVG (plotters' SVG backend; no
//! script, no font file: the browser draws the text): per architecture, the median build
//! duration and queue wait per day, and the failed builds and failed uploads per week. From
//! the history's records (their `date_started` and `datebuilt`; a record written before those
//! were kept counts in the weekly failures only).

use std::collections::BTreeMap;

use askama::Template;
use chrono::{DateTime, TimeDelta, Utc};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use crate::jobs::model::Progress;
use crate::store::{Store, StoreError};

/// How far back the page goes.
const DAYS: i64 = 90;
const SIZE: (u32, u32) = (900, 320);

/// The trends page's main part.
#[derive(Template)]
#[template(path = "trends.html")]
pub struct Trends {
    pub days: i64,
    pub builds: usize,
    /// The pictures: (title, SVG drawn here from numbers and architecture names).
    pub pictures: Vec<(&'static str, String)>,
}

/// A line per architecture: (day, minutes) points.
type Lines = BTreeMap<String, Vec<(f64, f64)>>;

impl Trends {
    /// The trends as the store's history has them now.
    pub fn read(store: &Store, now: DateTime<Utc>) -> Result<Trends, StoreError> {
        let records = store.history_since(now - TimeDelta::days(DAYS))?;
        let day = |at: DateTime<Utc>| -((now - at).num_seconds() as f64 / 86_400.0).floor();
        let mut durations: BTreeMap<(String, i64), Vec<f64>> = BTreeMap::new();
        let mut waits: BTreeMap<(String, i64), Vec<f64>> = BTreeMap::new();
        let weeks = DAYS as usize / 7 + 1;
        let mut failed_builds = vec![0u32; weeks];
        let mut failed_uploads = vec![0u32; weeks];
        for record in &records {
            let arch = record.arch.to_string();
            let when = day(record.requested_at) as i64;
            if let (Some(started), Some(finished)) = (record.dates.started, record.dates.finished) {
                let minutes = (finished - started).num_seconds() as f64 / 60.0;
                durations
                    .entry((arch.clone(), when))
                    .or_default()
                    .push(minutes);
            }
            if let Some(started) = record.dates.started {
                let minutes = (started - record.requested_at).num_seconds().max(0) as f64 / 60.0;
                waits.entry((arch, when)).or_default().push(minutes);
            }
            let week = ((now - record.requested_at).num_days() / 7) as usize;
            match record.progress() {
                Progress::BuildFailed => failed_builds[week.min(weeks - 1)] += 1,
                Progress::UploadFailed => failed_uploads[week.min(weeks - 1)] += 1,
                _ => {}
            }
        }
        let pictures = vec![
            (
                "Build duration (median minutes per day)",
                lines(&medians(durations), now),
            ),
            (
                "Queue wait (median minutes per day)",
                lines(&medians(waits), now),
            ),
            (
                "Failures per week",
                weekly(&failed_builds, &failed_uploads, now),
            ),
        ];
        Ok(Trends {
            days: DAYS,
            builds: records.len(),
            pictures,
        })
    }
}

/// The median of each architecture's values per day, as its line.
fn medians(values: BTreeMap<(String, i64), Vec<f64>>) -> Lines {
    let mut lines = Lines::new();
    for ((arch, day), mut minutes) in values {
        minutes.sort_by(f64::total_cmp);
        let median = minutes[minutes.len() / 2];
        lines.entry(arch).or_default().push((day as f64, median));
    }
    lines
}

/// The date `days` (0 or fewer) from `now`, as the axes say it.
fn date(now: DateTime<Utc>, days: f64) -> String {
    (now + TimeDelta::days(days as i64))
        .format("%d %b")
        .to_string()
}

/// A chart of the trends: days (or weeks) back from now across, a count up.
type Chart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// What drawing a picture may fail with.
type Failed = Box<dyn std::error::Error>;

/// The axes of a picture: `across` (days from now), `x_labels` marks named by `x_label`, up
/// to `top` counted in `y_desc`.
struct Axes<'f> {
    across: std::ops::Range<f64>,
    top: f64,
    x_labels: usize,
    x_label: &'f dyn Fn(&f64) -> String,
    y_desc: &'static str,
}

/// An SVG picture in the frame every trend shares (white, its axes, a legend upper left when
/// `series` drew something that has one); a failure to draw is logged and leaves what was
/// drawn.
fn picture(
    axes: Axes<'_>,
    series: impl FnOnce(&mut Chart<'_, '_>) -> Result<bool, Failed>,
) -> String {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        let drawn = (|| -> Result<(), Failed> {
            root.fill(&WHITE)?;
            let mut chart = ChartBuilder::on(&root)
                .margin(12)
                .x_label_area_size(28)
                .y_label_area_size(44)
                .build_cartesian_2d(axes.across, 0.0..axes.top)?;
            chart
                .configure_mesh()
                .x_labels(axes.x_labels)
                .x_label_formatter(axes.x_label)
                .y_desc(axes.y_desc)
                .draw()?;
            if series(&mut chart)? {
                chart
                    .configure_series_labels()
                    .position(SeriesLabelPosition::UpperLeft)
                    .background_style(WHITE.mix(0.9))
                    .border_style(BLACK.mix(0.3))
                    .draw()?;
            }
            root.present()?;
            Ok(())
        })();
        if let Err(error) = drawn {
            tracing::warn!(%error, "drawing a trend failed");
        }
    }
    svg
}

/// A line per architecture over the last [`DAYS`].
fn lines(lines: &Lines, now: DateTime<Utc>) -> String {
    let top = lines
        .values()
        .flatten()
        .map(|(_, minutes)| *minutes)
        .fold(1.0f64, f64::max)
        * 1.1;
    let axes = Axes {
        across: -(DAYS as f64)..0.5,
        top,
        x_labels: 10,
        x_label: &|days| date(now, *days),
        y_desc: "minutes",
    };
    picture(axes, |chart| {
        for (index, (arch, points)) in lines.iter().enumerate() {
            let colour = Palette99::pick(index).to_rgba();
            chart
                .draw_series(LineSeries::new(
                    points.iter().copied(),
                    colour.stroke_width(2),
                ))?
                .label(arch.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], colour.stroke_width(2))
                });
            chart.draw_series(
                points
                    .iter()
                    .map(|point| Circle::new(*point, 3, colour.filled())),
            )?;
        }
        Ok(!lines.is_empty())
    })
}

/// Failed builds and failed uploads per week, newest on the right.
fn weekly(builds: &[u32], uploads: &[u32], now: DateTime<Utc>) -> String {
    let top = builds
        .iter()
        .chain(uploads)
        .copied()
        .max()
        .unwrap_or(0)
        .max(1) as f64
        * 1.15;
    let weeks = builds.len();
    let axes = Axes {
        across: -(weeks as f64)..0.0,
        top,
        x_labels: weeks,
        x_label: &|week| date(now, week * 7.0),
        y_desc: "builds",
    };
    picture(axes, |chart| {
        let series = [
            ("failed builds", builds, RED),
            ("failed uploads", uploads, MAGENTA),
        ];
        for (offset, (name, counts, colour)) in series.into_iter().enumerate() {
            let left = |week: usize| -(week as f64) - 1.0 + 0.1 + offset as f64 * 0.4;
            chart
                .draw_series(counts.iter().enumerate().map(|(week, n)| {
                    Rectangle::new(
                        [(left(week), 0.0), (left(week) + 0.4, *n as f64)],
                        colour.filled(),
                    )
                }))?
                .label(name)
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 12, y + 5)], colour.filled())
                });
        }
        Ok(true)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::HistoryRecord;
    use crate::jobs::model::BuildDates;
    use crate::launchpad::models::BuildState;

    #[test]
    fn durations_and_waits_are_medians_by_architecture_and_day() {
        let now = Utc::now();
        let record = |n: i64, arch: &str, wait: i64, took: i64, state: BuildState| {
            let at = now - TimeDelta::days(2) - TimeDelta::minutes(n);
            let started = at + TimeDelta::minutes(wait);
            let build = format!("https://lp/+build/{n}{arch}");
            HistoryRecord {
                state,
                dates: BuildDates {
                    started: Some(started),
                    finished: Some(started + TimeDelta::minutes(took)),
                },
                ..HistoryRecord::sample(&build, "redis", "20.04", arch, at)
            }
        };
        let mut durations = BTreeMap::new();
        for took in [10.0, 30.0, 20.0] {
            durations
                .entry(("amd64".to_string(), -2))
                .or_insert_with(Vec::new)
                .push(took);
        }
        let lines = medians(durations);
        assert_eq!(lines["amd64"], [(-2.0, 20.0)]);

        let store = Store::temporary().unwrap();
        let built = BuildState::SuccessfullyBuilt;
        store
            .put_history(&[
                record(1, "amd64", 5, 10, built.clone()),
                record(2, "arm64", 7, 40, built),
                record(3, "s390x", 1, 3, BuildState::FailedToBuild),
            ])
            .unwrap();
        let trends = Trends::read(&store, now).unwrap();
        assert_eq!(trends.builds, 3);
        let [(_, durations), (_, waits), (_, failures)] = &trends.pictures[..] else {
            panic!("three pictures");
        };
        for svg in [durations, waits, failures] {
            assert!(svg.starts_with("<svg"), "{svg}");
        }
        for arch in ["amd64", "arm64", "s390x"] {
            assert!(durations.contains(arch) && waits.contains(arch), "{arch}");
        }
        assert!(failures.contains("failed builds") && failures.contains("failed uploads"));
    }
}
