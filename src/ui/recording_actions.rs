//! What the recording keys do to the UI state, and the effects they ask the app for: fetch the
//! selected call's recording, cancel its download or call-log lookup, export (through a prompt
//! for the destination), play or delete the stored one. Pure: the app carries the effects out
//! (`app::recordings_tui`).

use std::path::PathBuf;

use chrono::{DateTime, Utc};

use crate::board::{Board, Call};
use crate::store::recordings::CallInfo;
use crate::ui::downloads::RowKind;
use crate::ui::keys::Action;
use crate::ui::state::{InputLine, InputPurpose, Overlay, ScreenKind, UiState};
use crate::ui::update::Effect;

/// What a fetch starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchFrom {
    /// The recording id is known (a live call, or the Recordings view).
    Recording(String),
    /// An ended call without a recording id on the board: look it up in the call log.
    Session(String),
}

/// What the board knows about a call, for the store's record of its recording.
pub fn call_info(board: &Board, call: &Call, now: DateTime<Utc>) -> CallInfo {
    CallInfo {
        telephony_session_id: Some(call.id.to_string()),
        caller: call
            .caller_name
            .as_deref()
            .or(call.caller.as_deref())
            .map(str::to_owned),
        campaign: board.campaign_of_call(call).map(|(campaign, _)| campaign),
        queue: call.queue_name.as_deref().map(str::to_owned),
        agent: call.agent_name.as_deref().map(str::to_owned),
        duration_seconds: call
            .talk_ms(now)
            .or_else(|| {
                let end = call.ended_at.unwrap_or(now);
                Some((end - call.started_at).num_milliseconds())
            })
            .map(|ms| u32::try_from(ms.max(0) / 1000).unwrap_or(u32::MAX)),
    }
}

/// The selected row's call (Calls, Call detail) or recording (Recordings).
fn fetch_target(
    board: &Board,
    ui: &UiState,
    selected: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(FetchFrom, CallInfo), &'static str> {
    let session_id = match (&ui.screen().kind, selected) {
        (ScreenKind::CallDetail { session_id }, _) => session_id.clone(),
        (ScreenKind::Calls(_), Some(key)) => key.to_owned(),
        // A call-log lookup shown in the Recordings view is keyed by the call's session id.
        (ScreenKind::Recordings, Some(key))
            if ui
                .downloads
                .row(key)
                .is_some_and(|row| row.kind == RowKind::Lookup) =>
        {
            let info = board
                .call(key)
                .map(|call| call_info(board, call, now))
                .unwrap_or_else(|| CallInfo {
                    telephony_session_id: Some(key.to_owned()),
                    ..CallInfo::default()
                });
            return Ok((FetchFrom::Session(key.to_owned()), info));
        }
        (ScreenKind::Recordings, Some(recording_id)) => {
            let call = board
                .calls()
                .find(|c| c.recording.as_ref().is_some_and(|r| r.id == recording_id));
            let info = call.map(|c| call_info(board, c, now)).unwrap_or_default();
            return Ok((FetchFrom::Recording(recording_id.to_owned()), info));
        }
        _ => return Err("select a call (Calls view) or a recording (Recordings view) to fetch"),
    };
    let call = board
        .call(&session_id)
        .ok_or("that call is no longer on the board")?;
    let info = call_info(board, call, now);
    match &call.recording {
        Some(recording) => Ok((FetchFrom::Recording(recording.id.clone()), info)),
        None if call.is_live() => Err("this call is not being recorded"),
        None => Ok((FetchFrom::Session(session_id), info)),
    }
}

/// The stored recording the selection points at (Recordings view only).
fn stored_selection<'a>(ui: &UiState, selected: Option<&'a str>) -> Result<&'a str, &'static str> {
    if ui.screen().kind != ScreenKind::Recordings {
        return Err("open the Recordings view (6) and select a stored recording");
    }
    let id = selected.ok_or("no recording selected")?;
    match ui.stored_recordings.iter().find(|m| m.recording_id == id) {
        Some(meta) if meta.is_complete() => Ok(id),
        Some(_) => Err("that recording is not completely downloaded yet: fetch it (f) first"),
        None => Err("that recording is not in the local store yet: fetch it (f) first"),
    }
}

/// Opens the export prompt for a stored recording, proposing `<export dir>/recording-<id>.<ext>`
/// (a name safe whatever the id); the user edits it to another file or directory.
fn open_export_prompt(ui: &mut UiState, recording_id: &str) {
    let Some(file_name) = ui
        .stored_recordings
        .iter()
        .find(|m| m.recording_id == recording_id)
        .map(|meta| meta.default_file_name())
    else {
        return;
    };
    let proposed = ui.export_dir.join(file_name);
    ui.input = Some(InputLine::new(
        InputPurpose::ExportRecording {
            recording_id: recording_id.to_owned(),
        },
        &proposed.to_string_lossy(),
    ));
}

/// Enter in the export prompt: export to what was typed (an existing file is not replaced
/// without a yes, see [`confirm_overwrite`]).
pub fn submit_export(ui: &mut UiState, input: InputLine, recording_id: String) -> Vec<Effect> {
    let path = input.text.trim();
    if path.is_empty() {
        ui.input = Some(InputLine {
            error: Some("type a file or a directory to export to".to_owned()),
            ..input
        });
        return Vec::new();
    }
    vec![Effect::ExportRecording {
        recording_id,
        path: PathBuf::from(path),
        replace: false,
    }]
}

/// The answer to "replace the existing file?": `y` exports over it, anything else keeps it.
pub fn confirm_overwrite(
    ui: &mut UiState,
    recording_id: String,
    path: PathBuf,
    yes: bool,
    now: DateTime<Utc>,
) -> Vec<Effect> {
    if yes {
        vec![Effect::ExportRecording {
            recording_id,
            path,
            replace: true,
        }]
    } else {
        ui.flash(
            format!("export cancelled; {} was left as it was", path.display()),
            false,
            now,
        );
        Vec::new()
    }
}

/// Handles one recording action on the selected row (`selected` is its key).
pub fn on_action(
    ui: &mut UiState,
    board: &Board,
    action: Action,
    selected: Option<&str>,
    now: DateTime<Utc>,
) -> Vec<Effect> {
    let outcome = match action {
        Action::FetchRecording => fetch_target(board, ui, selected, now).map(|(from, call)| {
            let shown = match &from {
                FetchFrom::Recording(id) | FetchFrom::Session(id) => id.clone(),
            };
            if ui.downloads.is_running(&shown) {
                return Vec::new();
            }
            let kind = match &from {
                FetchFrom::Recording(_) => RowKind::Download,
                FetchFrom::Session(_) => RowKind::Lookup,
            };
            ui.downloads.requested(&shown, kind, now);
            if ui.screen().kind != ScreenKind::Recordings {
                let what = match kind {
                    RowKind::Lookup => "looking the call's recording up",
                    RowKind::Download => "fetching the recording",
                };
                ui.flash(
                    format!("{what}: progress in 6 Recordings (x there cancels)"),
                    false,
                    now,
                );
            }
            vec![Effect::FetchRecording { from, call }]
        }),
        Action::CancelDownload => {
            let id = match fetch_target(board, ui, selected, now) {
                Ok((FetchFrom::Recording(id) | FetchFrom::Session(id), _)) => Some(id),
                Err(_) => selected.map(str::to_owned),
            };
            match id.filter(|id| ui.downloads.is_running(id)) {
                Some(id) => Ok(vec![Effect::CancelDownload(id)]),
                None => Err("no download of the selected recording is running"),
            }
        }
        Action::ExportRecording => stored_selection(ui, selected).map(|id| {
            open_export_prompt(ui, id);
            Vec::new()
        }),
        Action::PlayRecording => {
            stored_selection(ui, selected).map(|id| vec![Effect::PlayRecording(id.to_owned())])
        }
        Action::DeleteRecording => {
            if ui.keymap.read_only() {
                return Vec::new();
            }
            let known = ui.screen().kind == ScreenKind::Recordings
                && selected
                    .is_some_and(|id| ui.stored_recordings.iter().any(|m| m.recording_id == id));
            match selected.filter(|_| known) {
                Some(id) => {
                    ui.overlay = Some(Overlay::ConfirmDeleteRecording {
                        recording_id: id.to_owned(),
                    });
                    Ok(Vec::new())
                }
                None => Err("select a stored recording in the Recordings view to delete it"),
            }
        }
        _ => Ok(Vec::new()),
    };
    match outcome {
        Ok(effects) => effects,
        Err(message) => {
            ui.flash(message, true, now);
            Vec::new()
        }
    }
}
