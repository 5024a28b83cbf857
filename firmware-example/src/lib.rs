//! Hardware-independent part of the firmware example.
#![no_std]
#![forbid(unsafe_code)]
