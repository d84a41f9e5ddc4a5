//! The bundled SQLite is compiled the way `.cargo/config.toml` asks (BENCHMARKS.md, cause 25):
//! a build that lost those flags still works, only slower, so nothing else would notice.

#[test]
fn sqlite_keeps_a_page_cache_per_connection_and_no_allocation_statistics() {
    let connection = rusqlite::Connection::open_in_memory().unwrap();
    let mut statement = connection.prepare("PRAGMA compile_options").unwrap();
    let options: Vec<String> = statement
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(
        !options.iter().any(|o| o == "ENABLE_MEMORY_MANAGEMENT"),
        "one page cache shared by every connection behind a global mutex: {options:?}"
    );
    assert!(
        options.iter().any(|o| o == "DEFAULT_MEMSTATUS=0"),
        "memory statistics kept behind a global mutex: {options:?}"
    );
}
