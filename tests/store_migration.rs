//! A store written by the previous format (version 1: each job one JSON record, its targets
//! and builds inside, in the tree `jobs`) opens with this one: every job moved to records of
//! its own, unchanged, the open ones indexed, and the engine resumes the unfinished one.
//!
//! The two jobs in `tests/fixtures/store-v1-job-*.json` were written by version 1 (the
//! commit before the format changed): one finished with four builds per recipe, one still
//! sending its request.

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

/// Writes a version 1 store at `dir`, as version 1 did: jobs keyed by big-endian id, the
/// schema version, the last job id, and job 1's summary sent.
fn write_v1(dir: &std::path::Path) {
    let db = sled::open(dir).unwrap();
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
    let db = sled::open(&dir).unwrap();
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

fn tempfile_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("ib-store-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}
