//! The librarian: a build's files and logs as plain downloads.

use axum::http::StatusCode;
use axum::response::Response;

use super::resource::Resource;
use super::{insert, text};
use crate::launchpad::sim::render::Roots;
use crate::launchpad::sim::world::World;

/// Where the simulator's librarian serves files: `/+librarian/BUILD/FILE`.
pub(super) const LIBRARIAN: &str = "/+librarian/";

/// `<build>/+files/<name>` on the web host: 303 to the librarian for the build's log (the only
/// file the simulator keeps), 404 otherwise or before the build started.
pub(super) fn build_file(world: &World, roots: &Roots, path: &str) -> Response {
    let (build_path, name) = path.split_once("/+files/").unwrap_or_default();
    let build = match Resource::resolve(world, build_path.trim_start_matches('/')) {
        Some(Resource::Build(id)) => &world.builds[&id],
        _ => return text(StatusCode::NOT_FOUND, "Not found."),
    };
    let codename = world
        .recipes
        .get(&build.recipe)
        .map_or("ubuntu", |recipe| recipe.codename.as_str());
    let upload_log = build.upload_log.is_some()
        && name == crate::launchpad::sim::buildlog::upload_log_name(build);
    let build_log = build.date_started.is_some()
        && name == crate::launchpad::sim::buildlog::file_name(codename, build);
    if !upload_log && !build_log {
        return text(StatusCode::NOT_FOUND, "Not found.");
    }
    let mut response = Response::new(axum::body::Body::empty());
    *response.status_mut() = StatusCode::SEE_OTHER;
    let location = format!("{}{}{}/{name}", roots.web, &LIBRARIAN[1..], build.id);
    insert(&mut response, "Location", &location);
    response
}

/// The librarian: a build's log as stored (gzip, `text/plain`), or 404.
pub(super) fn librarian(world: &World, path: &str) -> Response {
    let id = path[LIBRARIAN.len()..]
        .split('/')
        .next()
        .and_then(|id| id.parse::<u64>().ok());
    let Some(build) = id.and_then(|id| world.builds.get(&id)) else {
        return text(StatusCode::NOT_FOUND, "Not found.");
    };
    if path.ends_with(&crate::launchpad::sim::buildlog::upload_log_name(build)) {
        return match &build.upload_log {
            Some(log) => text(StatusCode::OK, log),
            None => text(
                StatusCode::NOT_FOUND,
                "The file has expired or was deleted.",
            ),
        };
    }
    match crate::launchpad::sim::buildlog::body(world, build) {
        Some(bytes) => {
            let mut response = Response::new(axum::body::Body::from(bytes));
            insert(&mut response, "Content-Type", "text/plain");
            response
        }
        None => text(
            StatusCode::NOT_FOUND,
            "The file has expired or was deleted.",
        ),
    }
}
