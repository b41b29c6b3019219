//! Checks shared by the fuzz targets of `fuzz/` and their proptest twins: each fuzz target
//! includes its file by `#[path]`, so both run exactly the same assertions.

pub mod agno;
pub mod deadline;
pub mod pricing;
pub mod run_record;
pub mod usage;
