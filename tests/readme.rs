//! The README documents every built-in table's schema exactly as duckhaul creates it.

use duckhaul::catalog::Resource;
use duckhaul::store::schema::table_ddl;

#[test]
fn the_readme_shows_every_table_schema_as_created() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let mut missing = Vec::new();
    for resource in Resource::ALL {
        let Some(schema) = resource.schema() else { continue };
        let ddl = table_ddl(resource.name(), schema);
        if !readme.contains(&ddl) {
            missing.push(ddl);
        }
    }
    assert!(missing.is_empty(), "README.md lacks (or has stale) schemas; paste these into its Table schemas section:\n\n{}", missing.join(";\n\n"));
}
