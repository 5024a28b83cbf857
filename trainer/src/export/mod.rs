//! Quantisation of f32 models to fixed point and writing of the `.nlm` model file.
