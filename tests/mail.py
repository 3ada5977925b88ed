"""Realistic test messages built in code, for scenario tests on both backends."""

from __future__ import annotations

INVITATION_ICS = """\
From: Anna Schmidt <anna.schmidt@acme.example>
To: Jane Doe <jane@example.com>
Subject: Interview invitation: Data Engineer at Acme
Date: Mon, 02 Nov 2026 10:14:00 +0100
Message-ID: <inv-1@acme.example>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b1"

--b1
Content-Type: text/plain; charset=utf-8

Hi Jane,

thank you for applying for the Data Engineer position at Acme. We would like to
invite you to an interview with Tom Lee, our Head of Data, and me.

The interview is on Thursday 5 November from 14:00 to 15:00 (CET), over video.
The calendar invitation is attached.

Best regards,
Anna Schmidt
Talent Acquisition, Acme

--b1
Content-Type: text/calendar; charset=utf-8; method=REQUEST

BEGIN:VCALENDAR
PRODID:-//Acme//Scheduling//EN
VERSION:2.0
METHOD:REQUEST
BEGIN:VEVENT
UID:acme-iv-1@acme.example
SEQUENCE:0
DTSTAMP:20261102T091400Z
DTSTART;TZID=Europe/Berlin:20261105T140000
DTEND;TZID=Europe/Berlin:20261105T150000
SUMMARY:Interview: Data Engineer (Jane Doe)
LOCATION:https://meet.acme.example/de-jane
ORGANIZER;CN=Anna Schmidt:mailto:anna.schmidt@acme.example
ATTENDEE;CN=Anna Schmidt:mailto:anna.schmidt@acme.example
ATTENDEE;CN=Tom Lee:mailto:tom.lee@acme.example
ATTENDEE;CN=Jane Doe:mailto:jane@example.com
END:VEVENT
END:VCALENDAR

--b1--
"""

REJECTION = """\
From: Anna Schmidt <anna.schmidt@acme.example>
To: Jane Doe <jane@example.com>
Subject: Your application for Data Engineer at Acme
Date: Tue, 10 Nov 2026 11:00:00 +0100
Message-ID: <rej-1@acme.example>
In-Reply-To: <inv-1@acme.example>
References: <inv-1@acme.example>
Content-Type: text/plain; charset=utf-8

Dear Jane,

thank you for meeting Tom and me last week. After careful consideration we have
decided not to move forward with your application for the Data Engineer role.
We were impressed by your preparation and wish you every success.

Kind regards,
Anna Schmidt
"""

NEWSLETTER = """\
From: Career Weekly <newsletter@careerweekly.example>
To: jane@example.com
Subject: 10 interview tips that get you hired
Date: Tue, 03 Nov 2026 07:00:00 +0100
Message-ID: <cw-45@careerweekly.example>
List-Unsubscribe: <mailto:unsubscribe@careerweekly.example>
Content-Type: text/plain; charset=utf-8

This week: how to prepare for your next job interview and why a thank-you note
still matters. Read online | Unsubscribe
"""


def crlf(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode()
