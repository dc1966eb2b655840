//! The catalogue as the file writes it (`[catalogue]` and `[[images]]`) and its checks into a
//! [`Catalogue`] whose every recipe name Launchpad would accept.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use super::{check_name, problem, Launchpad, Problem};
use crate::catalogue::{render_recipe_name, Catalogue, Image, RecipePath, SeriesInfo, Track};
use crate::target::{Arch, ImageName, Series};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CatalogueFile {
    architectures: Vec<Arch>,
    series: BTreeMap<Series, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ImageFile {
    tracks: BTreeMap<Series, String>,
    #[serde(default)]
    architectures: Option<Vec<Arch>>,
    #[serde(default)]
    recipe_name_template: Option<String>,
    #[serde(default)]
    recipe_names: BTreeMap<Series, String>,
}

pub(super) fn validate_catalogue(
    launchpad: &Launchpad,
    file: CatalogueFile,
    images: BTreeMap<ImageName, ImageFile>,
) -> Result<Catalogue, Problem> {
    if file.architectures.is_empty() {
        return Err(problem("catalogue.architectures", "lists no architecture"));
    }
    if file.series.is_empty() {
        return Err(problem("catalogue.series", "lists no series"));
    }
    if images.is_empty() {
        return Err(problem("images", "lists no image"));
    }
    // Series, code names, architectures and images share one command line, told apart only by
    // the vocabulary, so a word may mean one thing at most.
    let mut words: BTreeMap<String, String> = BTreeMap::new();
    let mut claim = |word: String, key: String| match words.insert(word.clone(), key.clone()) {
        None => Ok(()),
        Some(earlier) => Err(problem(
            key,
            format!(
                "`{word}` is already used by `{earlier}`; a word in a command must mean one thing"
            ),
        )),
    };
    claim("all".into(), "the word `all` (every image)".into())?;
    let mut series = Vec::new();
    for (version, codename) in file.series {
        let key = format!("catalogue.series.\"{version}\"");
        if codename.is_empty() || !codename.bytes().all(|b| b.is_ascii_lowercase()) {
            return Err(problem(
                &key,
                format!("code name `{codename}` must be lower-case letters"),
            ));
        }
        claim(version.to_string(), key.clone())?;
        claim(codename.clone(), key)?;
        series.push(SeriesInfo {
            series: version,
            codename,
        });
    }
    for arch in &file.architectures {
        claim(arch.to_string(), "catalogue.architectures".into())?;
    }
    let known_series: BTreeSet<Series> = series.iter().map(|info| info.series).collect();
    let mut checked = Vec::new();
    for (name, image) in images {
        claim(name.to_string(), format!("images.{name}"))?;
        checked.push(validate_image(
            launchpad,
            &file.architectures,
            &known_series,
            name,
            image,
        )?);
    }
    Ok(Catalogue {
        series,
        arches: file.architectures,
        images: checked,
    })
}

pub(super) fn validate_image(
    launchpad: &Launchpad,
    all_arches: &[Arch],
    known_series: &BTreeSet<Series>,
    name: ImageName,
    file: ImageFile,
) -> Result<Image, Problem> {
    let key = format!("images.{name}");
    if file.tracks.is_empty() {
        return Err(problem(format!("{key}.tracks"), "lists no series"));
    }
    let arches = match file.architectures {
        None => all_arches.to_vec(),
        Some(arches) if arches.is_empty() => {
            return Err(problem(
                format!("{key}.architectures"),
                "lists no architecture",
            ))
        }
        Some(arches) => {
            if let Some(unknown) = arches.iter().find(|arch| !all_arches.contains(arch)) {
                return Err(problem(
                    format!("{key}.architectures"),
                    format!("`{unknown}` is not in catalogue.architectures"),
                ));
            }
            arches
        }
    };
    let template = file
        .recipe_name_template
        .as_deref()
        .unwrap_or(&launchpad.recipe_name_template);
    for series in file.recipe_names.keys() {
        if !file.tracks.contains_key(series) {
            return Err(problem(
                format!("{key}.recipe_names.\"{series}\""),
                format!("{name} has no track for {series} in {key}.tracks"),
            ));
        }
    }
    let mut tracks = Vec::new();
    let mut recipe_names = BTreeSet::new();
    for (series, track) in &file.tracks {
        let track_key = format!("{key}.tracks.\"{series}\"");
        if !known_series.contains(series) {
            return Err(problem(
                &track_key,
                "this series is not in catalogue.series",
            ));
        }
        check_name(&track_key, track)?;
        let recipe_name = match file.recipe_names.get(series) {
            Some(explicit) => explicit.clone(),
            None => render_recipe_name(template, &name, track, *series)
                .map_err(|what| problem(format!("{key}: recipe_name_template"), what))?,
        };
        check_name(format!("{key}: recipe name for {series}"), &recipe_name)?;
        if !recipe_names.insert(recipe_name.clone()) {
            return Err(problem(
                &track_key,
                format!("recipe name `{recipe_name}` is used for two series of {name}"),
            ));
        }
        tracks.push(Track {
            series: *series,
            track: track.clone(),
            recipe: RecipePath {
                owner: launchpad.owner.clone(),
                pillar: launchpad.pillar.clone(),
                project: name.clone(),
                name: recipe_name,
            },
        });
    }
    Ok(Image {
        name,
        arches,
        tracks,
    })
}
