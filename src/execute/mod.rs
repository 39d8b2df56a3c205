//! The imperative shell: the only place that spawns processes, reads the clock and the
//! environment, takes locks and writes derived files. It feeds facts to the decider as
//! commands and appends the events it answers with.

mod attempt_logs;
mod child;
mod claude;
mod clock;
mod dispatch;
mod driver;
mod guard;
mod host;
mod inflight;
mod journal;
mod lease;
mod lock;
mod materialize;
mod notify;
pub mod operator;
pub mod output_mirror;
mod outputs;
mod patience;
mod pool;
mod prerequisites;
mod process;
mod procinfo;
pub mod rlimit;
mod runner;
mod scheduler;
mod secret_check;
mod secrets;
mod self_fence;
mod session;
mod signals;
mod snapshot;
mod spawn;
pub mod thread;
mod webhook_resolver;
mod workflow_loop;

pub use attempt_logs::{
    AttemptLogsChecked, HOME_ID_FILE, LogFileCheck, ThisHome, WrittenBy, attempt_file_path,
    attempt_hosts, belongs_here, check_attempt_log, check_attempt_logs, check_kept_output,
    file_here_is_its, home_id, kept_output_differs, not_a_file_at,
};
pub(crate) use child::{end_children, given_value};
pub use child::{inherit_secret_inputs, run_tree};
pub use clock::{Clock, FixedClock, IdGen, SequentialIds, SystemClock, UlidIds, rfc3339};
pub use dispatch::{
    Dispatch, ENDING_WORDS, Shared, Slots, acquire_run, claim_unit, claims_without_lease,
    driven_elsewhere, driver_alive, driver_alive_with, finish_unit, holder_gone, interrupt_unit,
    live_lock, load_live, load_live_checked, lock_lapsed, reap_lapsed, reap_lapsed_as, run_holder,
    with_run_leases, without_gone_drivers,
};
pub use driver::{SUPERSEDED, drive};
pub use guard::{GUARD_ARG, guard_main, start_guard};
pub use host::{MAX_ACTOR_CHARS, default_actor, hostname};
pub use inflight::inflight_notes;
pub use journal::{Journal, JournalError, driver_lease_lapsed};
pub use lease::{LeaseKeeper, OpenStore};
pub use lock::{
    DriverLock, Holder, LockError, live_recorded_driver, locks_beside, remove_lock_files,
    serve_many,
};
pub use materialize::{
    DRIVER_LOG_FOLDERS, LOGS_FOLDER, RUNS_FOLDER, SCHEDULE_DRIVER_LOGS, SERVE_DRIVER_LOGS,
    TUI_DRIVER_LOGS, UnfitFolder, WriteBehind, check_run_folders, driver_log_in_use, materialize,
    open_derived, read_driver_log, remove_run_files, run_folder, run_path, run_path_part,
    unfit_folder,
};
pub use notify::{
    Delivery, Ended, Subject, Trigger, deliver, not_made, notify_key, record_deliveries,
};
pub use outputs::{parse_outputs, take_outputs};
pub use patience::{LOG_LOCK_WAIT, LOG_LOCK_WAIT_ENV, Patience, Tried, log_lock_wait, patiently};
pub use prerequisites::{check_requires, claude_program_missing};
pub use process::{
    CAPTURE_BYTES, Captured, KILL_GRACE, ProcessResult, ProcessSpec, Program, RAISE_OPEN_FILES,
    Stream, end_orphan_group, end_orphan_groups, no_more_files, open_file_limit, open_files_left,
    out_of_files, run_process, run_process_tracked,
};
pub use procinfo::gone_here;
pub use runner::{
    AttemptOutcome, HomeProblem, LineSink, Runner, attempt_log_name, end_notify_orphans_of,
    end_orphans_of, notify_cut_short_of, orphans_alive_of, unit_key,
};
pub use secret_check::{
    Check as SecretCheck, check_secret_inputs, recognise_secret_inputs, record_secret_inputs,
};
pub use secrets::{
    MIN_SECRET_LEN, REDACTED, Redactor, SECRET_OUTPUTS_ENV, ServeTokenRegistration,
    add_everything_held, foreach_from_secret_fed, give_secret_inputs, held_secret_output,
    hold_secret_inputs, hold_secret_output, inert_settings_on_reported_steps, input_env_clash,
    input_env_name, input_from_env, input_text, is_secret_env, is_secret_name, is_secret_output,
    is_secret_output_of, may_be_secret, names_where_a_secret_is, note_given_secrets, note_home,
    note_secret_env, note_secret_env_of_start, register_serve_token, rerun_for_unheld, scrub_bytes,
    scrub_known, scrub_serve_token, secret_input_from_env, secret_inputs,
    secret_output_keys_problem, secret_outputs, secret_outputs_across_waits, secret_outputs_env,
    serve_token_to_scrub, serve_tokens_to_scrub, supply_held_secret_inputs, unheld_secret_output,
    unheld_secret_output_in, unheld_secret_output_in_rollback, units_between, unset_env,
    wait_between,
};
pub(crate) use session::{CLI_RESUME_WITH_SECRETS, missing_secrets_note};
pub use session::{DriveContext, DriveEnd, DriveError, Observer, Quiet};
pub use signals::{StopFlag, survive_file_size_limit};
pub use snapshot::{
    SNAPSHOT_EVERY, check_snapshots, check_verified, fold_log, fold_log_checked, load_state,
    load_state_checked, load_state_upto_checked, maybe_snapshot, read_problem, replay_verified,
    snapshot_due,
};
