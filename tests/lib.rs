//! Shared helpers of the end-to-end tests (the tests themselves live in `tests/`).
