"""The knowledge base's documents tab: the upload zone (refusals over the limit shown by name), the table
with live status, re-index and delete (confirmed)."""

from __future__ import annotations

import reflex as rx

from chatai.team.roles import KB_WRITE
from chatai.web.components.confirm import confirm_action
from chatai.web.components.layout import empty_state, t
from chatai.web.components.role_gate import only_for
from chatai.web.state.knowledge import UPLOAD_ID, KnowledgeState


def _rejected_files(rejected: rx.Var) -> rx.Var:
    """react-dropzone's rejections reduced in the browser to name and size. Sent as they are, the File
    objects travel over the websocket as binary attachments: an 11 MB file exceeded the socket's message
    limit, the connection dropped, and the page showed nothing at all."""
    return rx.Var(f"({rejected}).map((r) => ({{name: r.file.name, size: r.file.size}}))").to(list)


_STATUS_COLOR = {"queued": "gray", "processing": "blue", "ready": "green", "error": "red"}


def _status_badge(status: rx.Var) -> rx.Component:
    return rx.match(
        status,
        *[(key, rx.badge(t(f"st_{key}"), color_scheme=color)) for key, color in _STATUS_COLOR.items()],
        rx.badge(status),
    )


def _document_actions(d: dict) -> rx.Component:
    return only_for(KB_WRITE, rx.hstack(
        rx.icon_button(rx.icon("refresh-cw", size=14), variant="soft", size="1", title=t("reindex"),
                       aria_label=t("reindex"), on_click=KnowledgeState.reindex_document(d["id"]),
                       class_name="reindex-document"),
        confirm_action(
            rx.icon_button(rx.icon("trash-2", size=14), variant="soft", color_scheme="red", size="1",
                           title=t("delete"), aria_label=t("delete"), class_name="delete-document"),
            title_key="first_hour_confirm_delete_document", subject=d["filename"],
            loss_key="first_hour_loss_document", action_key="delete",
            on_confirm=KnowledgeState.delete_document(d["id"])),
    ))


# On a phone the status, size and passages columns went off the right edge (the status read "Обрабо"): there
# they are hidden and the status shows under the file name instead.
_WIDE_ONLY = rx.breakpoints(initial="none", sm="table-cell")
_NARROW_ONLY = rx.breakpoints(initial="flex", sm="none")


def _document_status(d: dict, **props) -> rx.Component:
    return rx.vstack(
        _status_badge(d["status"]),
        rx.cond((d["status"] == "processing") | (d["status"] == "queued"),
                rx.box(rx.box(width=d["progress"] + "%", height="100%", bg=rx.color("indigo", 9),
                              border_radius="3px", transition="width 0.4s"),
                       width="120px", height="6px", bg=rx.color("gray", 4), border_radius="3px",
                       class_name="progress"),
                rx.fragment()),
        spacing="1", class_name="document-status", **props)


def _document_row(d: dict) -> rx.Component:
    # The actions come first: on a phone the table scrolls sideways and the last column was off-screen.
    return rx.table.row(
        rx.table.cell(_document_actions(d)),
        rx.table.cell(rx.vstack(
            rx.hstack(rx.icon("file-text", size=16, flex_shrink="0"),
                      rx.text(d["filename"], weight="medium", word_break="break-word"), align="center"),
            rx.cond(d["error"] != "", rx.text(d["error"], size="1", color=rx.color("red", 11)), rx.fragment()),
            rx.text(d["received"], size="1", color=rx.color("gray", 10), class_name="document-received"),
            _document_status(d, display=_NARROW_ONLY),
            spacing="1")),
        rx.table.cell(_document_status(d), display=_WIDE_ONLY),
        rx.table.cell(d["size"], display=_WIDE_ONLY),
        rx.table.cell(rx.cond(d["qa"] != "", t("first_hour_qa_document"), d["chunks"]), display=_WIDE_ONLY),
        data_status=d["status"],
        class_name="document-row",
    )


def _poll_after_upload() -> rx.Component:
    """Invisible; a new key after each upload remounts it, and mounting starts the progress poll."""
    # The key sits on a fragment around the box: the box's on_mount lives in its own wrapper component,
    # which a key on the box itself would not remount.
    return rx.fragment(rx.box(on_mount=KnowledgeState.poll_progress, display="none"),
                       key=KnowledgeState.uploads_done.to_string())


# Reflex keeps an upload's abort controller in `refs` (utils/state.js, the scope `rx.call_script` code runs in)
# from the moment it is sent until the server's answer ends: that is "an upload is in flight".
_UPLOAD_IN_FLIGHT = f"!!refs['__upload_controllers_{UPLOAD_ID}']"
# Closing or leaving the tab while an upload is in flight loses the files not sent yet: the browser asks first.
_WARN_BEFORE_LEAVING = ("window.__chataiUploadGuard || (window.__chataiUploadGuard = true, "
                        "window.addEventListener('beforeunload', (e) => { if (" + _UPLOAD_IN_FLIGHT + ") { "
                        "e.preventDefault(); e.returnValue = ''; } }))")


def documents_tab() -> rx.Component:
    return rx.vstack(
        _poll_after_upload(),
        rx.box(on_mount=rx.call_script(_WARN_BEFORE_LEAVING), display="none", id="upload-leave-guard"),
        only_for(KB_WRITE, rx.upload(
            rx.vstack(
                rx.icon("cloud-upload", size=28, color=rx.color("indigo", 10)),
                rx.text(t("drop_files"), weight="medium"),
                rx.text(t("drop_files_hint"), " ", KnowledgeState.max_upload_mb, " ", t("first_hour_mb"), size="1",
                        color=rx.color("gray", 10)),
                rx.cond(KnowledgeState.uploading, rx.hstack(rx.spinner(), rx.text(t("uploading"))), rx.fragment()),
                align="center",
                spacing="2",
            ),
            id=UPLOAD_ID,
            multiple=True,
            max_size=KnowledgeState.max_upload_mb * 1048576,
            # Asked before the upload starts: Reflex ignores a drop while the zone's last upload is in flight.
            on_drop=[rx.call_script(_UPLOAD_IN_FLIGHT, callback=KnowledgeState.refuse_drop_while_uploading),
                     KnowledgeState.handle_upload(rx.upload_files(upload_id=UPLOAD_ID))],
            on_drop_rejected=lambda rejected: KnowledgeState.handle_upload_rejected(_rejected_files(rejected)),
            border=f"2px dashed {rx.color('gray', 6)}",
            border_radius="12px",
            padding="28px",
            width="100%",
            cursor="pointer",
        )),
        rx.cond(KnowledgeState.upload_received != "",
                rx.callout(KnowledgeState.upload_received, icon="check", color_scheme="green", width="100%",
                           id="upload-received")),
        rx.foreach(KnowledgeState.upload_errors,
                   lambda e: rx.callout(e, icon="triangle-alert", color_scheme="red", width="100%",
                                        class_name="upload-error")),
        rx.cond(
            KnowledgeState.documents.length() > 0,
            rx.box(rx.table.root(
                rx.table.header(rx.table.row(
                    rx.table.column_header_cell(t("actions")), rx.table.column_header_cell(t("document")),
                    rx.table.column_header_cell(t("status"), display=_WIDE_ONLY),
                    rx.table.column_header_cell(t("size"), display=_WIDE_ONLY),
                    rx.table.column_header_cell(t("chunks"), display=_WIDE_ONLY))),
                rx.table.body(rx.foreach(KnowledgeState.documents, _document_row)),
                width="100%"), overflow_x="auto", width="100%", id="documents-table"),
            empty_state("file-text", "no_documents"),
        ),
        spacing="4",
        width="100%",
    )

