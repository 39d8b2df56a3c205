//! The schedule decider (`decide_schedule` / `evolve_schedule`) in given/when/then form, and
//! its invariants under any sequence of schedulers' commands.

use cortex::decide::{
    ScheduleCommand, ScheduleRefused, ScheduleState, decide_schedule, evolve_schedule,
};
use cortex::definition::Overlap;
use cortex::event::{Driver, Event, FireOutcome, Recorded};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

fn scheduler() -> Driver {
    Driver {
        pid: 1,
        host: "h".into(),
    }
}

fn fire(due: &str, overlap: Overlap, going: Option<&str>) -> ScheduleCommand {
    ScheduleCommand::Fire {
        due: due.into(),
        cron: "*/5 * * * *".into(),
        overlap,
        going: going.map(str::to_string),
        missed: 0,
        scheduler: scheduler(),
    }
}

fn record(due: &str, run: &str) -> ScheduleCommand {
    ScheduleCommand::RecordRun {
        due: due.into(),
        run: Ok(run.into()),
    }
}

fn see(cron: &str, at: &str) -> ScheduleCommand {
    ScheduleCommand::See {
        cron: cron.into(),
        at: at.into(),
        scheduler: scheduler(),
    }
}

/// Given the schedule seen (at T00:00) and these commands already decided (each must be
/// accepted), the state they leave.
fn given(commands: Vec<ScheduleCommand>) -> ScheduleState {
    let mut state = ScheduleState::default();
    let commands = std::iter::once(see("*/5 * * * *", "T00:00")).chain(commands);
    for command in commands {
        let events = decide_schedule(&state, command).expect("given commands are accepted");
        state = apply(state, events);
    }
    state
}

fn apply(mut state: ScheduleState, events: Vec<Event>) -> ScheduleState {
    for event in events {
        let rec = Recorded {
            run_id: "schedule:workflow:w".into(),
            seq: state.events,
            id: format!("e{}", state.events),
            time: "2026-12-03T10:00:00.000Z".into(),
            version: event.version(),
            event,
            prev_hash: String::new(),
            hash: String::new(),
        };
        state = evolve_schedule(state, &rec);
    }
    state
}

fn outcome(events: &[Event]) -> (FireOutcome, Option<String>) {
    match events {
        [
            Event::ScheduleFired {
                outcome, reason, ..
            },
        ] => (*outcome, reason.clone()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn given_nothing_when_a_time_is_due_then_a_run_starts() {
    let state = given(vec![]);
    let events = decide_schedule(&state, fire("T10:00", Overlap::Skip, None)).unwrap();
    assert_eq!(outcome(&events), (FireOutcome::Start, None));
}

/// A schedule added (or changed) after a due time it had not existed for never fires that
/// time: before, one written at 18:22 for `5 18 * * *` fired "18:05" at once, 17 minutes late.
/// The time it is seen at is from then on, and fires (a review: a pass at 10:15:00 that first
/// saw `* * * * *` left 10:15 out).
#[test]
fn given_a_schedule_seen_at_a_time_when_an_earlier_time_comes_then_it_is_refused_and_that_time_fires()
 {
    let unseen = ScheduleState::default();
    assert!(matches!(
        decide_schedule(&unseen, fire("T10:00", Overlap::Skip, None)),
        Err(ScheduleRefused::BeforeSeen { .. })
    ));
    let seen = apply(
        unseen.clone(),
        decide_schedule(&unseen, see("*/5 * * * *", "T10:00:05")).unwrap(),
    );
    assert!(matches!(
        decide_schedule(&seen, see("*/5 * * * *", "T10:01")),
        Err(ScheduleRefused::AlreadySeen { .. })
    ));
    for due in ["T09:55", "T10:00"] {
        assert!(matches!(
            decide_schedule(&seen, fire(due, Overlap::Skip, None)),
            Err(ScheduleRefused::BeforeSeen { .. })
        ));
    }
    let at_sighting = decide_schedule(&seen, fire("T10:00:05", Overlap::Skip, None)).unwrap();
    assert_eq!(outcome(&at_sighting), (FireOutcome::Start, None));
    let events = decide_schedule(&seen, fire("T10:05", Overlap::Skip, None)).unwrap();
    assert_eq!(outcome(&events), (FireOutcome::Start, None));
    // Its expression changed: it is seen anew, and fires only from then on.
    let fired = apply(seen, events);
    let changed = |due: &str| ScheduleCommand::Fire {
        due: due.into(),
        cron: "*/10 * * * *".into(),
        overlap: Overlap::Skip,
        going: None,
        missed: 0,
        scheduler: scheduler(),
    };
    assert!(matches!(
        decide_schedule(&fired, changed("T10:10")),
        Err(ScheduleRefused::BeforeSeen { .. })
    ));
    let resee = decide_schedule(&fired, see("*/10 * * * *", "T10:10")).unwrap();
    let reseen = apply(fired, resee);
    assert!(decide_schedule(&reseen, changed("T10:10")).is_ok());
}

/// A stream from before sightings were recorded: the expression it fired by is known.
#[test]
fn given_a_fire_recorded_before_sightings_when_the_next_time_comes_then_a_run_starts() {
    let legacy = apply(
        ScheduleState::default(),
        vec![Event::ScheduleFired {
            due: "T10:00".into(),
            cron: "*/5 * * * *".into(),
            outcome: FireOutcome::Skip,
            reason: None,
            missed: 0,
            scheduler: scheduler(),
        }],
    );
    let events = decide_schedule(&legacy, fire("T10:05", Overlap::Skip, None)).unwrap();
    assert_eq!(outcome(&events), (FireOutcome::Start, None));
}

#[test]
fn given_a_time_fired_when_it_or_an_earlier_one_comes_again_then_nothing_is_recorded() {
    let state = given(vec![fire("T10:05", Overlap::Skip, None)]);
    for due in ["T10:05", "T10:00"] {
        assert!(matches!(
            decide_schedule(&state, fire(due, Overlap::Allow, None)),
            Err(ScheduleRefused::AlreadyFired { .. })
        ));
    }
}

#[test]
fn given_a_run_still_going_when_skip_then_the_time_is_skipped_with_the_run_named() {
    let state = given(vec![
        fire("T10:00", Overlap::Skip, None),
        record("T10:00", "R1"),
    ]);
    let events = decide_schedule(&state, fire("T10:05", Overlap::Skip, Some("run R1"))).unwrap();
    let (o, reason) = outcome(&events);
    assert_eq!(o, FireOutcome::Skip);
    assert!(reason.unwrap().contains("run R1 is still going"));
}

#[test]
fn given_a_run_decided_but_not_recorded_when_the_next_time_comes_then_it_counts_as_going() {
    let state = given(vec![fire("T10:00", Overlap::Skip, None)]);
    let events = decide_schedule(&state, fire("T10:05", Overlap::Skip, None)).unwrap();
    let (o, reason) = outcome(&events);
    assert_eq!(o, FireOutcome::Skip);
    assert!(reason.unwrap().contains("the run of T10:00"));
}

#[test]
fn given_one_queued_when_another_time_comes_then_it_is_skipped_and_release_waits_for_the_run() {
    let state = given(vec![
        fire("T10:00", Overlap::Queue, None),
        record("T10:00", "R1"),
        fire("T10:05", Overlap::Queue, Some("run R1")),
    ]);
    assert!(state.fires[1].waiting_in_queue());
    let events = decide_schedule(&state, fire("T10:10", Overlap::Queue, Some("run R1"))).unwrap();
    let (o, reason) = outcome(&events);
    assert_eq!(o, FireOutcome::Skip);
    assert!(reason.unwrap().contains("T10:05 already waits"));
    let release = |going: Option<&str>| ScheduleCommand::Release {
        due: "T10:05".into(),
        going: going.map(str::to_string),
        scheduler: scheduler(),
    };
    assert!(matches!(
        decide_schedule(&state, release(Some("run R1"))),
        Err(ScheduleRefused::StillGoing { .. })
    ));
    let released = decide_schedule(&state, release(None)).unwrap();
    assert!(matches!(&released[..], [Event::ScheduleReleased { due, .. }] if due == "T10:05"));
    let state = apply(state, released);
    assert!(state.fires[1].awaiting_run());
    // Released once: a second scheduler's release is refused.
    assert!(matches!(
        decide_schedule(&state, release(None)),
        Err(ScheduleRefused::NotQueued { .. })
    ));
}

#[test]
fn given_one_queued_and_nothing_going_when_a_newer_time_comes_then_the_queued_one_goes_first() {
    let state = given(vec![
        fire("T10:00", Overlap::Queue, None),
        record("T10:00", "R1"),
        fire("T10:05", Overlap::Queue, Some("run R1")),
    ]);
    // R1 has ended, T10:05 not released yet (another scheduler's pass fires first).
    let events = decide_schedule(&state, fire("T10:10", Overlap::Queue, None)).unwrap();
    let (o, reason) = outcome(&events);
    assert_eq!(o, FireOutcome::Skip);
    assert!(
        reason
            .unwrap()
            .contains("T10:05 waits in the queue to start first")
    );
    let state = apply(state, events);
    assert!(state.fires[1].waiting_in_queue());
}

#[test]
fn given_a_run_recorded_when_another_scheduler_records_one_then_it_is_refused() {
    let state = given(vec![
        fire("T10:00", Overlap::Skip, None),
        record("T10:00", "R1"),
    ]);
    assert!(matches!(
        decide_schedule(&state, record("T10:00", "R2")),
        Err(ScheduleRefused::NoRunAwaited { .. })
    ));
    assert_eq!(state.runs().collect::<Vec<_>>(), ["R1"]);
}

#[test]
fn given_a_skipped_time_when_a_run_is_recorded_for_it_then_it_is_refused() {
    let state = given(vec![
        fire("T10:00", Overlap::Skip, None),
        fire("T10:05", Overlap::Skip, Some("run R1")),
    ]);
    assert!(matches!(
        decide_schedule(&state, record("T10:05", "R2")),
        Err(ScheduleRefused::NoRunAwaited { .. })
    ));
}

/// One scheduler's command, drawn at random.
#[derive(Debug, Clone)]
enum Op {
    Fire {
        minute: u8,
        going: bool,
        overlap: u8,
    },
    Release {
        minute: u8,
        going: bool,
    },
    Record {
        minute: u8,
    },
    /// Seen at `minute`, on the minute or 30 s into it.
    See {
        minute: u8,
        on_the_minute: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..30, any::<bool>(), 0u8..3).prop_map(|(minute, going, overlap)| Op::Fire {
            minute,
            going,
            overlap
        }),
        (0u8..30, any::<bool>()).prop_map(|(minute, going)| Op::Release { minute, going }),
        (0u8..30).prop_map(|minute| Op::Record { minute }),
        (0u8..30, any::<bool>()).prop_map(|(minute, on_the_minute)| Op::See {
            minute,
            on_the_minute
        }),
    ]
}

fn due(minute: u8) -> String {
    format!("2026-12-03T10:{minute:02}:00Z")
}

proptest! {
    #![proptest_config(ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/decider_schedule.txt",
        ))),
        ..ProptestConfig::default()
    })]

    /// Whatever schedulers ask, in whatever order: each due time is decided at most once and
    /// in increasing order; at most one time waits in the queue; a run is recorded only for a
    /// time that started (or was released), and at most once; nothing is released while a
    /// run is still awaited; under `overlap: queue` no newer time starts while one waits; no
    /// time fires before the schedule was seen.
    #[test]
    fn each_due_time_fires_once_and_the_queue_holds_one(ops in proptest::collection::vec(op(), 1..60)) {
        let mut state = ScheduleState::default();
        for op in ops {
            let command = match op {
                Op::Fire { minute, going, overlap } => fire(
                    &due(minute),
                    [Overlap::Skip, Overlap::Queue, Overlap::Allow][overlap as usize],
                    going.then_some("run X"),
                ),
                Op::Release { minute, going } => ScheduleCommand::Release {
                    due: due(minute),
                    going: going.then(|| "run X".to_string()),
                    scheduler: scheduler(),
                },
                Op::Record { minute } => record(&due(minute), &format!("R{minute}")),
                Op::See { minute, on_the_minute } => see(
                    "*/5 * * * *",
                    &format!("2026-12-03T10:{minute:02}:{}Z", if on_the_minute { "00" } else { "30" }),
                ),
            };
            let before = state.clone();
            let queue_fire = matches!(
                &command,
                ScheduleCommand::Fire { overlap: Overlap::Queue, .. }
            );
            if let Ok(events) = decide_schedule(&state, command) {
                // First in, first out: under `overlap: queue` no newer time starts while
                // one waits in the queue.
                if queue_fire && outcome(&events).0 == FireOutcome::Start {
                    prop_assert!(!before.fires.iter().any(|f| f.waiting_in_queue()), "{:?}", before);
                }
                state = apply(state, events);
            } else {
                prop_assert_eq!(&state, &before);
            }
            let dues: Vec<&str> = state.fires.iter().map(|f| f.due.as_str()).collect();
            prop_assert!(dues.windows(2).all(|w| w[0] < w[1]), "{:?}", dues);
            prop_assert!(state.fires.iter().filter(|f| f.waiting_in_queue()).count() <= 1);
            // No time fires before the schedule was seen (one at the sighting does).
            if !state.fires.is_empty() {
                let since = state.known_since("*/5 * * * *").flatten();
                prop_assert!(since.is_some(), "{:?}", state);
                prop_assert!(state.fires.iter().all(|f| Some(f.due.as_str()) >= since), "{:?}", state);
            }
            for f in &state.fires {
                if f.run.is_some() {
                    prop_assert!(f.outcome == FireOutcome::Start || f.released, "{:?}", f);
                }
                if f.released {
                    prop_assert_eq!(f.outcome, FireOutcome::Queue);
                }
            }
        }
    }
}
