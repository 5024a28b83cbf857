//! The application loop against embedded-hal-mock: the trigger pin gets one edge per reported
//! regime change (and none otherwise), the source's end stops the loop, and errors surface.

use embedded_hal_mock::eh1::digital::{Mock as PinMock, State, Transaction as PinTx};
use neuroloop_core::fixed::Requant;
use neuroloop_core::{
    encode_model, Estimator, JsldsSection, Meta, Model, ModelBody, QMatrix, Selection, WeightType,
};
use neuroloop_firmware::app::{App, AppError, NoMeter};
use neuroloop_firmware::source::{CountSource, ReplayError, ReplaySource};

/// A 2-latent, 2-regime, 4-neuron model in Q12: regime 0 around (-1, 0), regime 1 around
/// (1, 0) (nearest point); neurons 0-1 push the state right, 2-3 left; A = 0.5 I; hysteresis 2.
fn model_bytes() -> Vec<u8> {
    let one = 4096i16;
    let i16s = |v: &[i16]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    let table = i16s(&(0..8).map(|c| c * one / 2).collect::<Vec<_>>()); // g = count / 2
    let points = i16s(&[-one, 0, one, 0]);
    // A: i8 weight 64 with multiplier 1/128 = 0.5; both regimes alike.
    let rq = |m: f64, rows: usize| {
        let r = Requant::from_f64(m).unwrap();
        let mult: Vec<u8> = (0..rows).flat_map(|_| r.mult.to_le_bytes()).collect();
        let shift: Vec<u8> = (0..rows).map(|_| r.shift as u8).collect();
        (mult, shift)
    };
    let a_data: Vec<u8> = [64i8, 0, 0, 64, 64, 0, 0, 64]
        .iter()
        .map(|&v| v as u8)
        .collect();
    let (a_mult, a_shift) = rq(1.0 / 128.0, 4);
    // B: row 0 of each regime: +1, +1, -1, -1 (times 0.5); row 1: zeros.
    let b_row: [i8; 4] = [64, 64, -64, -64];
    let mut b_data = Vec::new();
    for _ in 0..2 {
        b_data.extend(b_row.iter().map(|&v| v as u8));
        b_data.extend([0u8; 4]);
    }
    let (b_mult, b_shift) = rq(1.0 / 128.0, 4);
    let offset = i16s(&[0; 4]);
    let c_data = vec![0u8; 8];
    let (c_mult, c_shift) = rq(1.0 / 128.0, 4);
    let cb = i16s(&[0; 4]);
    let names = "left\nright";
    let m = |rows, cols, data, mult, shift| QMatrix {
        rows,
        cols,
        wtype: WeightType::I8,
        data,
        mult,
        shift,
    };
    let body = ModelBody {
        meta: Meta {
            name: "app-test",
            neurons: 4,
            bin_us: 10_000,
        },
        jslds: Some(JsldsSection {
            latent: 2,
            regimes: 2,
            state_scale: 1.0 / 4096.0,
            input_scale: 1.0 / 4096.0,
            log_rate_scale: 1.0 / 1024.0,
            input_table: &table,
            selection: Selection::Nearest { points: &points },
            dynamics: m(4, 2, &a_data, &a_mult, &a_shift),
            input_gain: m(4, 4, &b_data, &b_mult, &b_shift),
            offset: &offset,
            readout: m(4, 2, &c_data, &c_mult, &c_shift),
            readout_bias: &cb,
            hysteresis: 2,
            regime_names: names,
            reference: None,
        }),
    };
    let mut buf = vec![0u8; 4096];
    let n = encode_model(&body, &mut buf).unwrap();
    buf.truncate(n);
    buf
}

/// Counts that drive the state right for 6 bins, left for 6, right for 6 (each row 4 neurons).
fn counts() -> Vec<u8> {
    let right = [4u16, 4, 0, 0];
    let left = [0u16, 0, 4, 4];
    let mut out = Vec::new();
    for block in [right, left, right] {
        for _ in 0..6 {
            out.extend(block.iter().flat_map(|c| c.to_le_bytes()));
        }
    }
    out
}

#[test]
fn trigger_toggles_exactly_on_reported_changes() {
    let bytes = model_bytes();
    let model = Model::from_bytes(&bytes).unwrap();
    let stream = counts();

    // What the estimator reports, computed independently.
    let mut reference = Estimator::<4, 8>::new(&model).unwrap();
    let mut src = ReplaySource::new(&stream, 4).unwrap();
    let mut row = [0u16; 4];
    let mut changed = Vec::new();
    while src.next_bin(&mut row).unwrap() {
        changed.push(reference.step(&row).unwrap().changed);
    }
    let n_changes = changed.iter().filter(|&&c| c).count();
    assert!(
        n_changes >= 2,
        "the test stream must produce regime changes, got {n_changes}"
    );

    // Pin: driven low at start, then alternately high/low at each change, nothing else.
    let mut expected = vec![PinTx::set(State::Low)];
    let mut high = false;
    for _ in 0..n_changes {
        high = !high;
        expected.push(PinTx::set(if high { State::High } else { State::Low }));
    }
    let mut pin = PinMock::new(&expected);

    let est = Estimator::<4, 8>::new(&model).unwrap();
    let source = ReplaySource::new(&stream, 4).unwrap();
    let mut app = App::new(est, 4, source, pin.clone()).unwrap();
    let mut seen = Vec::new();
    while let Some(outcome) = app.run_bin(&mut NoMeter).unwrap() {
        assert_eq!(outcome.bin as usize, seen.len());
        seen.push(outcome.output.changed);
    }
    assert_eq!(seen, changed);
    assert_eq!(app.bins(), 18);
    assert_eq!(app.changes() as usize, n_changes);
    assert_eq!(app.trigger_high(), n_changes % 2 == 1);
    // The source has ended: further calls keep returning None without touching the pin.
    assert!(app.run_bin(&mut NoMeter).unwrap().is_none());
    pin.done();
}

#[test]
fn a_source_with_the_wrong_neuron_count_is_rejected() {
    let bytes = model_bytes();
    let model = Model::from_bytes(&bytes).unwrap();
    let est = Estimator::<4, 8>::new(&model).unwrap();
    let stream = [0u8; 12];
    let source = ReplaySource::new(&stream, 3).unwrap();
    let mut pin = PinMock::new(&[]);
    match App::new(est, 4, source, pin.clone()) {
        Err(AppError::Neurons {
            model: 4,
            source: 3,
            capacity: 8,
        }) => {}
        other => panic!("expected a neuron-count error, got {:?}", other.err()),
    }
    pin.done();
}

/// A source that fails on its second bin.
struct Failing(u32);

impl CountSource for Failing {
    type Error = ReplayError;
    fn neurons(&self) -> usize {
        4
    }
    fn next_bin(&mut self, out: &mut [u16]) -> Result<bool, ReplayError> {
        self.0 += 1;
        if self.0 > 1 {
            return Err(ReplayError::NoNeurons);
        }
        out.fill(0);
        Ok(true)
    }
}

#[test]
fn source_errors_surface_with_their_origin() {
    let bytes = model_bytes();
    let model = Model::from_bytes(&bytes).unwrap();
    let est = Estimator::<4, 8>::new(&model).unwrap();
    let mut pin = PinMock::new(&[PinTx::set(State::Low)]);
    let mut app = App::new(est, 4, Failing(0), pin.clone()).unwrap();
    assert!(app.run_bin(&mut NoMeter).unwrap().is_some());
    match app.run_bin(&mut NoMeter) {
        Err(AppError::Source(ReplayError::NoNeurons)) => {}
        other => panic!("expected the source error, got {other:?}"),
    }
    pin.done();
}

#[test]
fn macs_per_step_counts_selection_dynamics_and_input() {
    let bytes = model_bytes();
    let model = Model::from_bytes(&bytes).unwrap();
    let section = model.jslds().unwrap();
    // K*d selection + d*d dynamics + d*N input = 2*2 + 2*2 + 2*4.
    assert_eq!(neuroloop_firmware::stats::macs_per_step(section, 4), 16);
}
