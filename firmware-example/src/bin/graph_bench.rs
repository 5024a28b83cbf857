//! Benchmark of the streaming graph encoder (`neuroloop_core::graph`) on the emulated
//! Cortex-M4 (QEMU `mps2-an386`, `-icount shift=0`): instructions per bin update on the
//! embedded count stream (realistic, e.g. `neuroloop replay --counts-out`), on synthetic
//! counts of several densities and on the worst case (every neuron firing, saturated
//! counts), and instructions of each window-end stage, with their multiply-accumulates.
//!
//! Run it with `scripts/firmware-graph-bench.sh`; it prints `NLG` lines (key=value). Counting:
//! under `-icount shift=0` QEMU advances its clock 1 ns an instruction and SysTick (25 MHz)
//! ticks once every 40 instructions, so instructions = ticks × 40 (the main firmware checks
//! this factor at start-up with a calibrated loop; means over many bins resolve below one
//! tick). The main firmware (`src/main.rs`) is unchanged; this is a second binary.
//!
//! On the host this binary only says what it is for.
#![cfg_attr(target_os = "none", no_std, no_main)]
#![deny(unsafe_code)]

#[cfg(not(target_os = "none"))]
fn main() {
    println!(
        "graph_bench runs on thumbv7em-none-eabihf under QEMU; use scripts/firmware-graph-bench.sh"
    );
}

#[cfg(target_os = "none")]
mod bench {
    use core::panic::PanicInfo;

    use cortex_m::peripheral::syst::SystClkSource;
    use cortex_m::peripheral::SYST;
    use cortex_m_rt::entry;
    use cortex_m_semihosting::{debug, hprintln};
    use neuroloop_core::crc32::Crc32;
    use neuroloop_core::graph::{
        triangle, GraphSettings, StreamingConnectivity, Symmetrise, TopK, WindowCorrelation,
        WindowGraph,
    };
    use neuroloop_firmware::stats::CostStats;

    #[allow(unsafe_code)] // #[no_mangle] statics written by build.rs
    mod embedded {
        include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
    }

    /// Neurons of the benchmark (the figure is at N = 64).
    const N: usize = 64;
    const T: usize = triangle(N);
    /// Bins of a window: 10 s of 10 ms bins, the trainer's default.
    const WINDOW: u32 = 1000;
    /// Instructions per SysTick tick under `-icount shift=0` on mps2-an386.
    const PER_TICK: u64 = 40;
    /// Bins of each synthetic run.
    const SYNTH_BINS: u32 = 2000;

    type Sums = StreamingConnectivity<N, T>;
    type Corr = WindowCorrelation<N, T>;
    type Graph = WindowGraph<N, T>;

    struct State {
        sums: Sums,
        corr: Corr,
        graph: Graph,
        stats: CostStats<1024>,
    }

    const MASK: u32 = 0x00FF_FFFF;

    #[inline(always)]
    fn ticks<R>(f: impl FnOnce() -> R) -> (R, u32) {
        let t0 = SYST::get_current();
        let r = f();
        let t1 = SYST::get_current();
        (r, t0.wrapping_sub(t1) & MASK)
    }

    /// xorshift32: deterministic synthetic counts.
    struct Rng(u32);
    impl Rng {
        fn next(&mut self) -> u32 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 17;
            self.0 ^= self.0 << 5;
            self.0
        }
    }

    /// One synthetic bin: each neuron non-zero with probability `p_milli / 1000`, its count 1
    /// (3/4) or 2 (1/4); with `fixed`, the first `p_milli · N / 1000` neurons fire that count
    /// (`p_milli = 1000`: every neuron, the dense worst case).
    fn synth(rng: &mut Rng, p_milli: u32, fixed: Option<u16>, out: &mut [u16; N]) {
        let first = (p_milli as usize * N).div_ceil(1000);
        for (i, c) in out.iter_mut().enumerate() {
            *c = match fixed {
                Some(v) if i < first => v,
                Some(_) => 0,
                None if rng.next() % 1000 < p_milli => 1 + u16::from(rng.next() % 4 == 0),
                None => 0,
            };
        }
    }

    fn report_bins(tag: &str, stats: &CostStats<1024>, nonzero: u64, macs: u64) {
        let n = u64::from(stats.count().max(1));
        let mean_milli = stats.sum() * PER_TICK * 1000 / n;
        let macs_milli = macs * 1000 / n;
        hprintln!(
            "NLG bin_update source={} bins={} instructions_median={} instructions_mean={}.{:03} instructions_max={} nonzero_mean={}.{:02} macs_mean={}.{:03}",
            tag,
            stats.count(),
            u64::from(stats.median().unwrap_or(0)) * PER_TICK,
            mean_milli / 1000,
            mean_milli % 1000,
            u64::from(stats.max().unwrap_or(0)) * PER_TICK,
            nonzero * 100 / n / 100,
            nonzero * 100 / n % 100,
            macs_milli / 1000,
            macs_milli % 1000
        );
    }

    /// Times the window-end stages on the current sums and prints them.
    fn window_end(tag: &str, s: &mut State) {
        let (_, t_corr) = ticks(|| s.corr.compute(&s.sums));
        let active = s.corr.active() as usize;
        let threshold = GraphSettings {
            theta_q30: 107_374_183, // ceil(0.1 · 2^30)
            top_k: None,
            history_node: true,
        };
        let (r1, t_thr) = ticks(|| s.graph.build(&s.corr, &threshold));
        let edges_thr = s.graph.edge_count();
        let mut row = [0i16; N + 1];
        let (_, t_norm) = ticks(|| {
            for i in 0..=N {
                let _ = s.graph.normalized_row(i, &mut row);
            }
        });
        // Checksum of Â (outside the timed region), for host comparisons.
        let mut crc = Crc32::new();
        for i in 0..=N {
            let _ = s.graph.normalized_row(i, &mut row);
            crc.update_i16(&row);
        }
        let nonzero_norm = (N + 1) + 2 * N + 2 * edges_thr as usize;
        let (_, t_feat) = ticks(|| {
            for i in 0..=N {
                let _ = s.graph.abs_correlation_row(&s.corr, i, &mut row);
            }
        });
        let topk = GraphSettings {
            top_k: Some(TopK {
                k: 5,
                symmetrise: Symmetrise::Union,
            }),
            ..threshold
        };
        let (r2, t_topk) = ticks(|| s.graph.build(&s.corr, &topk));
        let mut rcrc = Crc32::new();
        for v in s.corr.packed() {
            rcrc.update(&v.to_le_bytes());
        }
        if r1.is_err() || r2.is_err() {
            hprintln!("NLG error: graph settings refused");
        }
        let i = |t: u32| u64::from(t) * PER_TICK;
        hprintln!(
            "NLG window_end source={} bins={} active={} correlation_instructions={} correlation_macs={} threshold_instructions={} edges={} normalized_instructions={} normalized_nonzero={} features_instructions={} topk5_union_instructions={} topk5_edges={} r_crc32={:#010x} a_hat_crc32={:#010x}",
            tag,
            s.sums.n_bins(),
            active,
            i(t_corr),
            Corr::compute_macs(active),
            i(t_thr),
            edges_thr,
            i(t_norm),
            nonzero_norm,
            i(t_feat),
            i(t_topk),
            s.graph.edge_count(),
            rcrc.finish(),
            crc.finish()
        );
    }

    fn run(s: &mut State) -> Result<(), ()> {
        // Realistic counts: the embedded stream.
        let bytes: &[u8] = &embedded::NEUROLOOP_COUNTS;
        if embedded::NEURONS != N {
            hprintln!(
                "NLG error: the embedded count stream has {} neurons, the bench needs {}",
                embedded::NEURONS,
                N
            );
            return Err(());
        }
        let (rows, _) = bytes.as_chunks::<{ 2 * N }>();
        let mut counts = [0u16; N];
        s.sums.reset();
        s.stats = CostStats::new();
        let (mut nz, mut macs, mut windows) = (0u64, 0u64, 0u32);
        for row in rows {
            for (c, b) in counts.iter_mut().zip(row.as_chunks::<2>().0) {
                *c = u16::from_le_bytes(*b);
            }
            if s.sums.n_bins() == WINDOW {
                if windows == 0 {
                    window_end("stream", s);
                }
                windows += 1;
                s.sums.reset();
            }
            let (k, t) = ticks(|| s.sums.push(&counts));
            let k = k.unwrap_or(0);
            s.stats.record(t);
            nz += k as u64;
            macs += Sums::bin_macs(k) as u64;
        }
        report_bins("stream", &s.stats, nz, macs);

        // Synthetic densities and the worst cases.
        let cases: [(&str, u32, Option<u16>); 7] = [
            ("p0.05", 50, None),
            ("p0.10", 100, None),
            ("p0.20", 200, None),
            ("p0.33", 330, None),
            // 31 of 64: the largest bin that takes the sparse path.
            ("first_31_firing", 484, Some(1)),
            ("all_firing_1", 1000, Some(1)),
            ("all_firing_saturated", 1000, Some(1000)),
        ];
        for (tag, p, fixed) in cases {
            let mut rng = Rng(0x1234_5678 ^ p);
            s.sums.reset();
            s.stats = CostStats::new();
            let (mut nz, mut macs) = (0u64, 0u64);
            for b in 0..SYNTH_BINS {
                synth(&mut rng, p, fixed, &mut counts);
                if b == WINDOW {
                    if p == 100 {
                        window_end(tag, s);
                    }
                    s.sums.reset();
                }
                let (k, t) = ticks(|| s.sums.push(&counts));
                let k = k.unwrap_or(0);
                s.stats.record(t);
                nz += k as u64;
                macs += Sums::bin_macs(k) as u64;
            }
            report_bins(tag, &s.stats, nz, macs);
        }
        hprintln!(
            "NLG memory sums_bytes={} correlation_bytes={} graph_bytes={}",
            core::mem::size_of::<Sums>(),
            core::mem::size_of::<Corr>(),
            core::mem::size_of::<Graph>()
        );
        Ok(())
    }

    #[entry]
    fn main() -> ! {
        let code = match cortex_m::Peripherals::take() {
            Some(mut cp) => {
                cp.SYST.disable_interrupt();
                cp.SYST.set_clock_source(SystClkSource::Core);
                cp.SYST.set_reload(MASK);
                cp.SYST.clear_current();
                cp.SYST.enable_counter();
                let state = cortex_m::singleton!(: State = State {
                    sums: Sums::new(),
                    corr: Corr::new(),
                    graph: Graph::new(),
                    stats: CostStats::new(),
                });
                match state.map(run) {
                    Some(Ok(())) => {
                        hprintln!("NLG done");
                        debug::EXIT_SUCCESS
                    }
                    _ => debug::EXIT_FAILURE,
                }
            }
            None => debug::EXIT_FAILURE,
        };
        debug::exit(code);
        loop {
            cortex_m::asm::bkpt();
        }
    }

    #[panic_handler]
    fn panic(info: &PanicInfo) -> ! {
        hprintln!("NLG error: panic: {}", info);
        debug::exit(debug::EXIT_FAILURE);
        loop {
            cortex_m::asm::bkpt();
        }
    }
}
