//! The C ABI (see include/hurah.h). Filled in by the C ABI work.
