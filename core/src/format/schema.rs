//! The schema description of format major version 1 and its fingerprint.
//!
//! The fingerprint is the CRC-32 of [`SCHEMA_V1`]. It guards against a writer and a reader that
//! agree on the version number but not on the field layout (e.g. two development builds): a
//! mismatch is [`ModelError::SchemaMismatch`](super::ModelError::SchemaMismatch). Minor versions
//! append optional fields at the end of the body without changing this string, so files of
//! every 1.x minor carry the same fingerprint.

/// Field order and types of the 1.x body, in postcard terms (`bytes` = varint length + raw
/// bytes, `str` = the same with UTF-8, `opt` = one tag byte 0/1, `enum` = varint discriminant).
pub const SCHEMA_V1: &str = "neuroloop-model v1;\
ModelBody{meta:Meta,jslds:opt<JsldsSection>};\
Meta{name:str,neurons:u16,bin_us:u32};\
WeightType=enum{I8,I16};\
QMatrix{rows:u16,cols:u16,wtype:WeightType,data:bytes,mult:bytes<i32le>,shift:bytes<i8>};\
JsldsSection{latent:u16,regimes:u16,state_scale:f32,input_scale:f32,log_rate_scale:f32,\
input_table:bytes<i16le>,selection:Selection,dynamics:QMatrix,input_gain:QMatrix,\
offset:bytes<i16le>,readout:QMatrix,readout_bias:bytes<i16le>,hysteresis:u16,\
regime_names:str,reference:opt<JsldsReference>};\
Selection=enum{Nearest{points:bytes<i16le>},Gate{weights:QMatrix,bias:bytes<i16le>}};\
JsldsReference{input_table,points,gate_weights,gate_bias,dynamics,input_gain,offset,readout,\
readout_bias:bytes<f32le>};\
requant=floor(acc*mult/2^(31-shift)+1/2),shift=-31..=30";

/// CRC-32 of [`SCHEMA_V1`], stored in every 1.x header.
pub const SCHEMA_FINGERPRINT: u32 = crate::crc32::crc32(SCHEMA_V1.as_bytes());
