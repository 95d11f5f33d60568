//! Tests that measure memory: this process's, or that of a binary it runs. Another test running beside
//! them would move the figures, so the test command runs this module on its own, one test at a time
//! (`cargo test --test it alone:: -- --test-threads=1`), after the rest (`-- --skip alone::`).

mod archive_large;
mod archive_memory;
mod load;
