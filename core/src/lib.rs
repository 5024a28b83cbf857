//! neuroloop-core: the device half of neuroloop.
#![no_std]
#![forbid(unsafe_code)]
