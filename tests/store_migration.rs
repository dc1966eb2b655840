//! A store written by the previous format (version 1: each job one JSON record, its targets
//! and builds inside, in the tree `jobs`) opens with this one: every job moved to records of
//! its own, unchanged, the open ones indexed, and the engine resumes the unfinished one.
//!
//! A store of today's format written before the history had an index opens with its history
//! indexed.
//!
//! The two jobs in `tests/fixtures/store-v1-job-*.json` were written by version 1 (the
//! commit before the format changed): one finished with four builds per recipe, one still
//! sending its request.

use image_builder::command::HistoryQuery;
use image_builder::jobs::JobStatus;
use image_builder::store::{decode_v1, JobMessages, Store, SCHEMA_VERSION};
use image_builder::target::JobId;

fn fixture(id: u64) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/store-v1-job-{id}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(path).unwrap()
}

/// The sled database at `dir`, as an earlier version wrote it, without sled's background
/// flusher: with it, the database stays locked for a moment after it is dropped, and a
/// `Store::open` right after is refused as busy (seen once in CI on a loaded machine).
fn raw_sled(dir: &std::path::Path) -> sled::Db {
    sled::Config::new()
        .path(dir)
        .flush_every_ms(None)
        .open()
        .unwrap()
}

/// Writes a version 1 store at `dir`, as version 1 did: jobs keyed by big-endian id, the
/// schema version, the last job id, and job 1's summary sent.
fn write_v1(dir: &std::path::Path) {
    let db = raw_sled(dir);
    let meta = db.open_tree("meta").unwrap();
    meta.insert("schema", "1").unwrap();
    meta.insert("last_job", &2u64.to_be_bytes()).unwrap();
    let jobs = db.open_tree("jobs").unwrap();
    for id in [1u64, 2] {
        jobs.insert(id.to_be_bytes(), fixture(id)).unwrap();
    }
    let said = JobMessages {
        channel: "team".into(),
        board: Some("m1".into()),
        summary_sent: true,
        board_sent_at: None,
    };
    db.open_tree("messages")
        .unwrap()
        .insert(1u64.to_be_bytes(), serde_json::to_vec(&said).unwrap())
        .unwrap();
    db.flush().unwrap();
}

#[test]
fn a_version_1_store_is_migrated_with_every_job_unchanged() {
    let dir = tempfile_dir("migrate");
    write_v1(&dir);
    let store = Store::open(&dir).unwrap();
    for id in [1u64, 2] {
        let expected = decode_v1(&fixture(id)).unwrap();
        let found = store.job(JobId(id)).unwrap().expect("the job was moved");
        assert_eq!(found, expected, "job {id}");
    }
    let finished = store.job(JobId(1)).unwrap().unwrap();
    assert_eq!(finished.status, JobStatus::Finished);
    assert_eq!(
        finished
            .targets
            .iter()
            .map(|t| t.builds.len())
            .sum::<usize>(),
        8,
        "the fixture is the finished job with its builds"
    );
    // Only the unfinished job is left to pick up; the finished one said everything.
    let open: Vec<u64> = store
        .open_jobs()
        .unwrap()
        .iter()
        .map(|job| job.id.0)
        .collect();
    assert_eq!(open, [2]);
    let all: Vec<u64> = store.jobs().unwrap().iter().map(|job| job.id.0).collect();
    assert_eq!(all, [2, 1], "newest first");
    assert_eq!(store.last_job_id().unwrap(), 2, "job numbers go on");
    assert_eq!(store.next_job_id().unwrap(), JobId(3));
    // The builds' links lead to their job, as before.
    let build = &finished.targets[0].builds[0].url;
    assert_eq!(store.job_for_link(build).unwrap(), Some(JobId(1)));
    drop(store);
    // Opened again: the new version, nothing moved twice.
    let db = raw_sled(&dir);
    let schema = db
        .open_tree("meta")
        .unwrap()
        .get("schema")
        .unwrap()
        .unwrap();
    assert_eq!(schema.as_ref(), SCHEMA_VERSION.to_string().as_bytes());
    assert!(!db.tree_names().iter().any(|name| name.as_ref() == b"jobs"));
    drop(db);
    let store = Store::open(&dir).unwrap();
    assert_eq!(store.jobs().unwrap().len(), 2);
    drop(store);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A store of today's format (version 2) as the commit before the history's index wrote it
/// (`tests/fixtures/store-v2.json`: every tree's keys and values; job 1 finished and closed,
/// job 2 still sending its request, the history of job 1's builds and of one build someone
/// else asked for later) opens with every job as it was, and its history is found through the
/// index made on opening.
#[test]
fn a_version_2_store_from_before_the_history_index_opens_with_its_history_indexed() {
    let dir = tempfile_dir("v2");
    let trees: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(format!(
            "{}/tests/fixtures/store-v2.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap(),
    )
    .unwrap();
    let bytes = |field: &serde_json::Value| -> Vec<u8> {
        if let Some(text) = field.get("text") {
            text.as_str().unwrap().as_bytes().to_vec()
        } else if let Some(json) = field.get("json") {
            serde_json::to_vec(json).unwrap()
        } else {
            let hex = field["hex"].as_str().unwrap();
            (0..hex.len())
                .step_by(2)
                .map(|at| u8::from_str_radix(&hex[at..at + 2], 16).unwrap())
                .collect()
        }
    };
    {
        let db = raw_sled(&dir);
        for (tree, entries) in trees.as_object().unwrap() {
            let tree = db.open_tree(tree).unwrap();
            for entry in entries.as_array().unwrap() {
                tree.insert(bytes(&entry["key"]), bytes(&entry["value"]))
                    .unwrap();
            }
        }
        db.flush().unwrap();
    }
    let store = Store::open(&dir).unwrap();
    let all: Vec<u64> = store.jobs().unwrap().iter().map(|job| job.id.0).collect();
    assert_eq!(all, [2, 1]);
    for id in [1u64, 2] {
        let expected = decode_v1(&fixture(id)).unwrap();
        assert_eq!(store.job(JobId(id)).unwrap(), Some(expected), "job {id}");
    }
    let open: Vec<u64> = store
        .open_jobs()
        .unwrap()
        .iter()
        .map(|job| job.id.0)
        .collect();
    assert_eq!(open, [2]);
    assert_eq!(store.next_job_id().unwrap(), JobId(3));
    let postgres_of_job_1 = trees["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|entry| {
            entry["value"]["json"]["job"] == 1 && entry["value"]["json"]["image"] == "postgres"
        })
        .count();
    assert!(postgres_of_job_1 > 0);
    let query = |image: &str| HistoryQuery {
        images: vec![image.parse().unwrap()],
        series: Vec::new(),
        arches: Vec::new(),
        by: None,
        last: 10,
    };
    let rebuilds = store.rebuilds(&query("postgres")).unwrap();
    let found: Vec<(Option<u64>, Option<String>, usize)> = rebuilds
        .iter()
        .map(|r| (r.job.map(|id| id.0), r.requester.clone(), r.builds.len()))
        .collect();
    assert_eq!(
        found,
        [
            (None, Some("~someone".to_string()), 1),
            (Some(1), Some("alice".to_string()), postgres_of_job_1)
        ],
        "newest first, through the index"
    );
    let redis = store.rebuilds(&query("redis")).unwrap();
    assert_eq!(redis.len(), 1, "job 1 built redis too");
    assert_eq!(redis[0].job.map(|id| id.0), Some(1));
    assert!(redis[0]
        .builds
        .iter()
        .all(|build| build.image.as_str() == "redis"));
    assert!(store.rebuilds(&query("nginx")).unwrap().is_empty());
    drop(store);
    std::fs::remove_dir_all(&dir).unwrap();
}

fn tempfile_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("ib-store-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}
