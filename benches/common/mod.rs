//! What the benches share: the catalogue they rebuild (`mod common;` in each).

/// The benches' config file: 15 images × 4 series = 60 recipes, 4 architectures each
/// (`rebuild all` is 240 builds), with `sections` (more TOML) before the images.
pub fn catalogue_text(sections: &str) -> String {
    let mut text = String::from(
        "[launchpad]\napi_root = \"https://api.launchpad.net/devel/\"\nweb_root = \"https://launchpad.net/\"\n\
         owner = \"bench\"\npillar = \"bench\"\n\n[catalogue]\narchitectures = [\"amd64\", \"arm64\", \"ppc64el\", \"s390x\"]\n\
         [catalogue.series]\n\"20.04\" = \"focal\"\n\"21.04\" = \"hirsute\"\n\"22.04\" = \"jammy\"\n\"24.04\" = \"noble\"\n",
    );
    text.push_str(sections);
    for n in 1..=15 {
        text.push_str(&format!(
            "\n[images.image{n:02}]\ntracks = {{ \"20.04\" = \"1.0\", \"21.04\" = \"1.0\", \"22.04\" = \"1.0\", \"24.04\" = \"1.0\" }}\n"
        ));
    }
    text
}
