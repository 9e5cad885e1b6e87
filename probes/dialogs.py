"""JavaScript dialogs: Playwright would dismiss them silently, cancelling `confirm("Send?")` and losing
`alert()` validation messages. We log every one and decide by policy."""

from __future__ import annotations

from dataclasses import dataclass, field

from playwright.async_api import Dialog
from playwright.async_api import Error as PlaywrightError

from probes.vocab import vocabulary


@dataclass
class DialogPolicy:
    """Accept a confirm that asks to send, once we have clicked send; dismiss anything else.

    Not slotted: Playwright tags event handlers with an attribute, and `handle` is one.
    """

    log: list[str] = field(default_factory=list)
    alerts_after_click: list[str] = field(default_factory=list)
    clicked: bool = False

    async def handle(self, dialog: Dialog) -> None:
        message = " ".join(dialog.message.split())[:500]
        accept = False
        if dialog.type == "confirm":
            # The user asked to send; a "Send this message?" confirm is the same request.
            accept = self.clicked and vocabulary().confirm_send.search(message) is not None
        elif dialog.type == "beforeunload":
            accept = self.clicked  # leaving the page after send is the form's own doing
        elif dialog.type == "alert":
            accept = True  # an alert has only one button
            if self.clicked:
                self.alerts_after_click.append(message)
        self.log.append(f"{dialog.type}: {message} -> {'accepted' if accept else 'dismissed'}")
        try:
            if accept:
                await dialog.accept()
            else:
                await dialog.dismiss()
        except PlaywrightError:
            pass  # the page or context closed while the dialog was open
