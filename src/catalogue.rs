//! The catalogue: which images the team builds, for which series and architectures, and where each
//! image × series recipe lives on Launchpad. Launchpad has no "find recipe by name" call, so this
//! mapping is the only way from `rebuild 20.04 redis` to a recipe URL. Built and checked by
//! `config.rs`; read by the parser's vocabulary and the planner.

use std::fmt;

use crate::target::{Arch, ImageName, Series};

/// Everything the bot may build, as validated from the config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalogue {
    /// The series the team builds for, oldest first.
    pub series: Vec<SeriesInfo>,
    /// Every architecture the team builds for, in the config's order.
    pub arches: Vec<Arch>,
    /// The images, sorted by name.
    pub images: Vec<Image>,
}

/// A series and the Ubuntu code name that may stand for it in commands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesInfo {
    /// The version number, `22.04`.
    pub series: Series,
    /// The code name, `jammy`; lower case.
    pub codename: String,
}

/// One image (one OCI project on Launchpad) and its recipes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// The OCI project's name.
    pub name: ImageName,
    /// The architectures its recipes build; the catalogue's, unless the image restricts them.
    pub arches: Vec<Arch>,
    /// One track per series the image is built for, oldest series first.
    pub tracks: Vec<Track>,
}

/// An image's build for one series: its app version and its recipe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Track {
    /// The series.
    pub series: Series,
    /// The app version (`6.2`); the branch is `TRACK-SERIES`, as Launchpad requires of OCI recipes.
    pub track: String,
    /// Where the recipe lives.
    pub recipe: RecipePath,
}

/// A recipe's place on Launchpad, `~OWNER/PILLAR/+oci/IMAGE/+recipe/NAME`, relative to the API
/// root (and, identically, to the web root).
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct RecipePath {
    /// The team or person owning the recipe.
    pub owner: String,
    /// The project or distribution the OCI project belongs to.
    pub pillar: String,
    /// The OCI project, which is the image.
    pub project: ImageName,
    /// The recipe's name.
    pub name: String,
}

impl fmt::Display for RecipePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "~{}/{}/+oci/{}/+recipe/{}",
            self.owner, self.pillar, self.project, self.name
        )
    }
}

impl Catalogue {
    /// The image of that name, if the team builds it.
    pub fn image(&self, name: &ImageName) -> Option<&Image> {
        self.images.iter().find(|image| &image.name == name)
    }

    /// Every series, oldest first.
    pub fn all_series(&self) -> Vec<Series> {
        self.series.iter().map(|info| info.series).collect()
    }
}

impl Image {
    /// The image's track for a series, if it is built for it.
    pub fn track(&self, series: Series) -> Option<&Track> {
        self.tracks.iter().find(|track| track.series == series)
    }

    /// The series the image is built for, oldest first.
    pub fn series(&self) -> Vec<Series> {
        self.tracks.iter().map(|track| track.series).collect()
    }
}

/// Fills a recipe name template. The placeholders are `{image}`, `{track}` and `{series}`;
/// `Err` carries the first unknown placeholder or an unclosed brace.
pub fn render_recipe_name(
    template: &str,
    image: &ImageName,
    track: &str,
    series: Series,
) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let close = after
            .find('}')
            .ok_or_else(|| format!("unclosed `{{` in `{template}`"))?;
        match &after[..close] {
            "image" => out.push_str(image.as_str()),
            "track" => out.push_str(track),
            "series" => out.push_str(&series.to_string()),
            other => {
                return Err(format!(
                    "unknown placeholder `{{{other}}}` (use {{image}}, {{track}}, {{series}})"
                ))
            }
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipe_path_is_launchpads_url_shape() {
        let path = RecipePath {
            owner: "ubuntu-docker-images".into(),
            pillar: "ubuntu-docker-images".into(),
            project: "redis".parse().unwrap(),
            name: "redis-6.2-22.04".into(),
        };
        assert_eq!(
            path.to_string(),
            "~ubuntu-docker-images/ubuntu-docker-images/+oci/redis/+recipe/redis-6.2-22.04"
        );
    }

    #[test]
    fn template_fills_each_placeholder_and_rejects_unknown_ones() {
        let redis = "redis".parse().unwrap();
        let jammy = "22.04".parse().unwrap();
        assert_eq!(
            render_recipe_name("{image}-{track}-{series}", &redis, "6.2", jammy).unwrap(),
            "redis-6.2-22.04"
        );
        assert_eq!(
            render_recipe_name("{track}-{series}", &redis, "6.2", jammy).unwrap(),
            "6.2-22.04"
        );
        assert!(render_recipe_name("{img}-{series}", &redis, "6.2", jammy)
            .unwrap_err()
            .contains("{img}"));
        assert!(render_recipe_name("{image", &redis, "6.2", jammy).is_err());
    }
}
