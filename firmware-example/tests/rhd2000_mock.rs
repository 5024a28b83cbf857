//! The RHD2000 driver against embedded-hal-mock: exact command words, the two-command result
//! latency, ROM checks, and the full front-end source (driver + detection + binning + delay).

use embedded_hal_mock::eh1::delay::{CheckedDelay, Transaction as DelayTx};
use embedded_hal_mock::eh1::spi::{Mock as SpiMock, Transaction as SpiTx};
use neuroloop_firmware::rhd2000::{ChipInfo, Command, Error, Rhd2000, ADC_ZERO};
use neuroloop_firmware::source::{CountSource, FrontEndConfig, FrontEndSource};

/// One SPI transaction of one 16-bit word: chip select, the word, chip select released.
fn word(mosi: u16, miso: u16) -> [SpiTx<u16>; 3] {
    [
        SpiTx::transaction_start(),
        SpiTx::transfer_in_place(vec![mosi], vec![miso]),
        SpiTx::transaction_end(),
    ]
}

/// A tiny model of the chip: what it answers to each command (2 words later).
struct Chip {
    rom: [u8; 5],
    chip_id: u8,
    /// Sample per channel for `CONVERT`.
    samples: Vec<u16>,
}

impl Chip {
    fn answer(&self, cmd: Command) -> u16 {
        match cmd {
            Command::Read(r @ 40..=44) => u16::from(self.rom[usize::from(r - 40)]),
            Command::Read(63) => u16::from(self.chip_id),
            Command::Read(_) => 0,
            Command::Write { value, .. } => 0xFF00 | u16::from(value),
            Command::Convert(c) => self.samples[usize::from(c)],
            Command::Calibrate | Command::Clear => 0x8000,
        }
    }

    /// Expected transactions for `cmds`, each MISO word being the answer to the command two
    /// before it; `history` holds the two commands in flight before the first one (`None` =
    /// nothing in flight, the chip then clocks out 0xFFFF).
    fn transactions(&self, history: [Option<Command>; 2], cmds: &[Command]) -> Vec<SpiTx<u16>> {
        let mut all: Vec<Option<Command>> = history.to_vec();
        all.extend(cmds.iter().copied().map(Some));
        let mut out = Vec::new();
        for (i, cmd) in cmds.iter().enumerate() {
            let miso = all[i].map_or(0xFFFF, |c| self.answer(c));
            out.extend(word(cmd.word(), miso));
        }
        out
    }
}

fn init_commands() -> Vec<Command> {
    let mut cmds = Vec::new();
    for reg in [40, 41, 42, 43, 44, 63] {
        cmds.extend([Command::Read(reg), Command::Read(63), Command::Read(63)]);
    }
    cmds.push(Command::Calibrate);
    cmds.extend([Command::Read(63); 9]);
    cmds
}

fn chip(samples: Vec<u16>) -> Chip {
    Chip {
        rom: *b"INTAN",
        chip_id: 4,
        samples,
    }
}

#[test]
fn command_words_match_the_datasheet() {
    assert_eq!(Command::Convert(0).word(), 0x0000);
    assert_eq!(Command::Convert(5).word(), 5 << 8);
    assert_eq!(Command::Convert(63).word(), 0x3F00);
    assert_eq!(Command::Calibrate.word(), 0x5500);
    assert_eq!(Command::Clear.word(), 0x6A00);
    assert_eq!(
        Command::Write {
            reg: 5,
            value: 0xA7
        }
        .word(),
        0x85A7
    );
    assert_eq!(Command::Read(63).word(), 0xFF00);
    assert_eq!(Command::Read(40).word(), 0xE800);
}

#[test]
fn init_reads_rom_and_chip_id_then_calibrates() {
    let chip = chip(vec![]);
    let expected = chip.transactions([None, None], &init_commands());
    let mut spi = SpiMock::new(&expected);
    let mut drv = Rhd2000::new(spi.clone());
    assert_eq!(
        drv.init(),
        Ok(ChipInfo {
            chip_id: 4,
            channels: 64
        })
    );
    assert_eq!(drv.channels(), 64);
    spi.done();
}

#[test]
fn init_rejects_a_wrong_rom() {
    let chip = Chip {
        rom: *b"INTBN",
        chip_id: 4,
        samples: vec![],
    };
    // The driver stops after READ(43) and its two dummies answer 'B'.
    let cmds = &init_commands()[..12];
    let expected = chip.transactions([None, None], cmds);
    let mut spi = SpiMock::new(&expected);
    let mut drv = Rhd2000::new(spi.clone());
    assert_eq!(
        drv.init(),
        Err(Error::Rom {
            reg: 43,
            expected: b'A',
            got: u16::from(b'B')
        })
    );
    spi.done();
}

#[test]
fn init_rejects_an_unknown_chip() {
    let chip = Chip {
        rom: *b"INTAN",
        chip_id: 3,
        samples: vec![],
    };
    let expected = chip.transactions([None, None], &init_commands()[..18]);
    let mut spi = SpiMock::new(&expected);
    let mut drv = Rhd2000::new(spi.clone());
    assert_eq!(drv.init(), Err(Error::UnknownChip(3)));
    spi.done();
}

/// The latency spelled out word by word for a 3-channel frame after init: the first two
/// MISO words of a frame belong to the previous frame's commands, channel c arrives with the
/// command c + 2, and the two ROM reads that close the frame carry channels 1 and 2.
#[test]
fn frame_results_arrive_two_commands_late() {
    let chip = chip(vec![0x8001, 0x8002, 0x8003]);
    let mut expected = chip.transactions([None, None], &init_commands());
    let id = 4u16;
    let (i, n) = (u16::from(b'I'), u16::from(b'N'));
    for (mosi, miso) in [
        // frame 1: the first two words are the answers to init's last two dummy reads
        (0x0000, id),
        (0x0100, id),
        (0x0200, 0x8001),
        (0xE800, 0x8002),
        (0xE900, 0x8003),
        // frame 2: the first two words answer frame 1's ROM reads ('I', 'N')
        (0x0000, i),
        (0x0100, n),
        (0x0200, 0x8001),
        (0xE800, 0x8002),
        (0xE900, 0x8003),
    ] {
        expected.extend(word(mosi, miso));
    }
    let mut spi = SpiMock::new(&expected);
    let mut drv = Rhd2000::new(spi.clone());
    drv.init().unwrap();
    let mut out = [0u16; 3];
    drv.sample_frame(&mut out).unwrap();
    assert_eq!(out, [0x8001, 0x8002, 0x8003]);
    out = [0; 3];
    drv.sample_frame(&mut out).unwrap();
    assert_eq!(out, [0x8001, 0x8002, 0x8003]);
    spi.done();
}

#[test]
fn a_broken_link_is_caught_by_the_rom_reads() {
    let chip = chip(vec![0x8001, 0x8002]);
    let mut expected = chip.transactions([None, None], &init_commands());
    for (mosi, miso) in [
        (0x0000, 4),
        (0x0100, 4),
        (0xE800, 0x8001),
        (0xE900, 0x8002),
        // second frame: the answer to READ(40) comes back corrupted
        (0x0000, 0x0049 ^ 0x0100),
    ] {
        expected.extend(word(mosi, miso));
    }
    let mut spi = SpiMock::new(&expected);
    let mut drv = Rhd2000::new(spi.clone());
    drv.init().unwrap();
    let mut out = [0u16; 2];
    drv.sample_frame(&mut out).unwrap();
    assert_eq!(
        drv.sample_frame(&mut out),
        Err(Error::Rom {
            reg: 40,
            expected: b'I',
            got: 0x0149
        })
    );
    spi.done();
}

#[test]
fn too_many_channels_is_an_error_before_any_transfer() {
    let mut spi = SpiMock::new(&[]);
    let mut drv = Rhd2000::new(spi.clone());
    let mut out = [0u16; 2];
    assert_eq!(
        drv.sample_frame(&mut out),
        Err(Error::Channels {
            requested: 2,
            available: 0
        })
    );
    spi.done();
}

/// Runs driver + detector + binner + delay over six frames of two channels (3 frames a bin,
/// threshold -100 ADC units) with the given dead time; returns the two bins.
fn front_end_bins(dead_samples: u16) -> [[u16; 2]; 2] {
    let lo = |v: i32| (ADC_ZERO + v) as u16;
    let frames: [[u16; 2]; 6] = [
        // bin 0: frame 0 arms both channels, ch0 crosses in frame 1, ch1 in frame 2
        [lo(0), lo(0)],
        [lo(-150), lo(0)],
        [lo(0), lo(-101)],
        // bin 1: ch0 crosses again 2 frames after its spike, ch1 2 frames after its spike
        [lo(-150), lo(0)],
        [lo(0), lo(-120)],
        [lo(0), lo(0)],
    ];
    let chip = chip(vec![]);
    let mut expected = chip.transactions([None, None], &init_commands());
    let mut prev: [u16; 2] = [4, 4]; // answers to init's last two dummy reads
    for f in frames {
        for (mosi, miso) in [
            (0x0000, prev[0]),
            (0x0100, prev[1]),
            (0xE800, f[0]),
            (0xE900, f[1]),
        ] {
            expected.extend(word(mosi, miso));
        }
        prev = [u16::from(b'I'), u16::from(b'N')];
    }
    let mut spi = SpiMock::new(&expected);
    let mut drv = Rhd2000::new(spi.clone());
    drv.init().unwrap();
    let delays: Vec<DelayTx> = (0..6).map(|_| DelayTx::delay_ns(50_000)).collect();
    let delay = CheckedDelay::new(&delays);
    let config = FrontEndConfig {
        channels: 2,
        frame_period_ns: 50_000,
        frames_per_bin: 3,
        threshold: -100,
        dead_samples,
    };
    let mut src = FrontEndSource::<_, _, 4>::new(drv, delay, config).unwrap();
    assert_eq!(src.neurons(), 2);
    let mut bins = [[0u16; 2]; 2];
    for b in &mut bins {
        assert_eq!(src.next_bin(b), Ok(true));
    }
    let (drv, mut delay) = src.release();
    delay.done();
    drop(drv);
    spi.done();
    bins
}

#[test]
fn front_end_source_detects_and_bins() {
    // One sample of dead time: both second crossings come after it and count.
    assert_eq!(front_end_bins(1), [[1, 1], [1, 1]]);
}

#[test]
fn front_end_dead_time_drops_crossings_inside_it() {
    // Two samples of dead time: both second crossings fall inside it and are dropped.
    assert_eq!(front_end_bins(2), [[1, 1], [0, 0]]);
}
