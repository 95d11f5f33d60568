//! Tests that measure this process's memory. Another test running beside them would move the figures,
//! so the test command runs this module on its own, one test at a time
//! (`cargo test --test it alone:: -- --test-threads=1`), after the rest (`-- --skip alone::`).

mod archive_batch;
mod archive_large;
mod load;
