//! The model file and the count stream embedded at build time (see `build.rs`).
#![allow(unsafe_code)]

include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
