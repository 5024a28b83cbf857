//! The CPU backend to run Burn on, chosen at run time (Burn 0.22 has no backend type
//! parameter; the device picks it). `flex` is the default (faster here); `ndarray` is the
//! design card's backend, deprecated upstream, kept selectable and tested to agree.

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

/// CPU backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// `burn-flex` (default).
    #[default]
    Flex,
    /// `burn-ndarray`.
    Ndarray,
}

impl Backend {
    /// A plain (inference) device of this backend; `.autodiff()` gives the training device.
    #[allow(deprecated)] // burn-ndarray is deprecated upstream; kept selectable (design card)
    pub fn device(self) -> Device {
        match self {
            Backend::Flex => Device::flex(),
            Backend::Ndarray => Device::ndarray(),
        }
    }
}
