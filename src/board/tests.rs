//! Board unit tests (see the table-driven scenarios below).
