"""Helpers for the approval page's browser tests: Debian's Chromium, driven by Playwright, with a
virtual WebAuthn authenticator so a test can register and approve without a human.

Stdlib and Playwright's sync API only. Playwright comes from PyPI (scripts/test installs it into
$AIRLOCK_VENV with PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1) and Chromium from Debian
(scripts/lib/deps.sh): Playwright never downloads a browser of its own here.
"""

CHROMIUM = "/usr/bin/chromium"  # Debian's launcher script, which execs /usr/lib/chromium/chromium

# Flags passed on top of Playwright's own defaults (which already turn off background networking,
# component updates, sync, first-run screens and the like).
CHROMIUM_ARGS = [
    # The tests run as root, and Chromium refuses to start as root with its sandbox on. Playwright
    # adds this too unless chromium_sandbox=True; it is written here so it holds whatever
    # Playwright's default becomes.
    "--no-sandbox",
    # The only hosts the tests talk to are on this machine. Every other name is sent to port 1 of
    # 127.0.0.1, where nothing listens, so the browser reaches nothing outside, even by accident.
    # (Not "~NOTFOUND": a name that fails to resolve makes Chromium's error page probe DNS servers
    # outside to diagnose it.)
    "--host-resolver-rules=MAP * 127.0.0.1:1, EXCLUDE localhost, EXCLUDE 127.0.0.1",
]


def launch(playwright):
    """Starts headless Chromium and returns Playwright's Browser; close it with browser.close()."""
    return playwright.chromium.launch(
        executable_path=CHROMIUM,
        headless=True,
        chromium_sandbox=False,  # see --no-sandbox above
        args=CHROMIUM_ARGS,
    )


def add_authenticator(page, user_verified=True):
    """Attaches a virtual platform authenticator (like a laptop's fingerprint reader) to the page's
    browser over the DevTools protocol, so navigator.credentials.create() and get() succeed at
    once. Returns (cdp_session, authenticator_id) for credentials() and for further WebAuthn.*
    commands, e.g. cdp.send("WebAuthn.setUserVerified", {"authenticatorId": id,
    "isUserVerified": False}) to make the "fingerprint" stop matching."""
    cdp = page.context.new_cdp_session(page)
    # enableUI false: no account chooser or other dialogs, which would wait for a click.
    cdp.send("WebAuthn.enable", {"enableUI": False})
    result = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2",
        "transport": "internal",          # built into the device, not a USB or NFC key
        "hasResidentKey": True,           # can keep discoverable credentials
        "hasUserVerification": True,      # has a PIN or fingerprint check...
        "isUserVerified": user_verified,  # ...and that check passes (or, when False, fails)
        "automaticPresenceSimulation": True,  # "touches" the authenticator for every request
    }})
    return cdp, result["authenticatorId"]


def credentials(cdp, authenticator_id):
    """The credentials the virtual authenticator holds, as the DevTools protocol gives them: dicts
    with credentialId (base64), rpId, isResidentCredential, privateKey (base64 PKCS#8),
    userHandle, signCount and more."""
    return cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})["credentials"]
