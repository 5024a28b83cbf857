//! One module per `neuroloop` subcommand: argument parsing and the glue that calls the
//! library. The work itself lives in the library modules.

pub mod data_args;
pub mod demo;
pub mod export;
pub mod inspect;
pub mod jslds;
pub mod replay;
pub mod simulate;
pub mod tavrnn;
