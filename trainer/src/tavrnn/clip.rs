//! Gradient clipping by the GLOBAL norm (all parameters together), as PyTorch's
//! `clip_grad_norm_` does and as the reference notebook meant to (it defined clipping and never
//! called it). Burn 0.22's built-in `GradientClippingConfig::Norm` clips each parameter tensor
//! on its own, which changes the direction of the update; scaling every gradient by the same
//! factor does not.

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::Tensor;

/// Sums the squared gradients of every parameter of a module.
struct SquaredNorm<'a> {
    grads: &'a GradientsParams,
    sum: f64,
}

impl ModuleVisitor for SquaredNorm<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.get::<D>(param.id) {
            self.sum += f64::from(g.square().sum().into_scalar::<f32>());
        }
    }
}

/// Multiplies every gradient of a module by one factor.
struct Scale<'a> {
    grads: &'a mut GradientsParams,
    factor: f64,
}

impl ModuleVisitor for Scale<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.remove::<D>(param.id) {
            self.grads.register(param.id, g.mul_scalar(self.factor));
        }
    }
}

/// Scales the gradients of `module` so that their global L2 norm is at most `max_norm`;
/// returns the norm before clipping (NaN when a gradient is not finite, left unscaled so the
/// caller's finiteness check reports it).
pub fn clip_global_norm<M: Module>(module: &M, grads: &mut GradientsParams, max_norm: f64) -> f64 {
    let mut norm = SquaredNorm { grads, sum: 0.0 };
    module.visit(&mut norm);
    let total = norm.sum.sqrt();
    if total.is_finite() && total > max_norm && max_norm > 0.0 {
        module.visit(&mut Scale {
            grads,
            factor: max_norm / total,
        });
    }
    total
}
