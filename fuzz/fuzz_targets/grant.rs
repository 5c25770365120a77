//! Any bytes as a grant file in the example `unity/dev` venue: reading, schema and rules must
//! never panic, and every diagnostic must render in the three output forms.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use stsgrant::check::check_grant_text;
use stsgrant::check::schema::Schemas;
use stsgrant::diagnostic::{render_github, render_human, render_json};
use stsgrant::grant::GrantId;
use stsgrant::load::GrantFile;
use stsgrant::venue::Catalog;

fn schemas() -> &'static Schemas {
    static SCHEMAS: OnceLock<Schemas> = OnceLock::new();
    SCHEMAS.get_or_init(Schemas::new)
}

fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| {
        yaml_serde::from_str(include_str!("../../grants/venues.yaml")).expect("the example catalog reads")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let file = GrantFile {
        path: PathBuf::from("grants/unity/dev/fuzz.yaml"),
        id: GrantId { project: "unity".into(), venue: "dev".into(), name: "fuzz".into() },
    };
    let today = jiff::civil::date(2026, 12, 3);
    let mut diagnostics = Vec::new();
    let _ = check_grant_text(schemas(), Some(catalog()), file, text.to_owned(), today, &mut diagnostics);
    let _ = render_human(&diagnostics);
    let _ = render_github(&diagnostics);
    let _ = render_json(&diagnostics, 1);
});
