"""German, French and Spanish recognition rules, one case per mistake the corpus found."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from followupd.extract_when import find_times, promised_reply
from followupd.model import Kind, Recognition
from followupd.parse import parse_message
from followupd.recognise import default_phrasebook, recognise
from followupd.recognise_text import sentences

BERLIN = ZoneInfo("Europe/Berlin")
SENDER = "Anna Roth <anna.roth@firma.example>"
# Friday 20 February 2026, 10:00 in Berlin: the reference "Date" for relative phrases.
REF = datetime(2026, 2, 20, 10, 0, tzinfo=BERLIN)


def mail(body: str, *, subject: str, sender: str, reply_to: str = "") -> Recognition:
    lines = [
        f"From: {sender}",
        "To: Jane Doe <jane@example.com>",
        "Date: Fri, 20 Feb 2026 10:00:00 +0100",
        "Message-ID: <intl@test.example>",
        f"Subject: {subject}",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
    ]
    if reply_to:
        lines.append(f"Reply-To: {reply_to}")
    raw = ("\n".join(lines) + "\n\n" + body).encode("utf-8")
    msg = parse_message(raw, default_tz=BERLIN)
    return recognise(msg, me_addresses={"jane@example.com"}, tz=BERLIN)


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("am Dienstag, 3. März um 14:30 Uhr", "2026-03-03T14:30", None),
        ("Donnerstag, den 5. März, 9.30 Uhr", "2026-03-05T09:30", None),
        ("am 05.03.2026 von 10:00 bis 11:00 Uhr", "2026-03-05T10:00", "2026-03-05T11:00"),
        ("morgen um 10 Uhr", "2026-02-21T10:00", None),
        ("mardi 3 mars à 14h30", "2026-03-03T14:30", None),
        ("le jeudi 5 mars de 14h à 15h", "2026-03-05T14:00", "2026-03-05T15:00"),
        ("demain à 10h", "2026-02-21T10:00", None),
        ("el martes 3 de marzo a las 14:30", "2026-03-03T14:30", None),
        ("el 3 de marzo de 2026, de 10:00 a 11:00 h", "2026-03-03T10:00", "2026-03-03T11:00"),
        ("mañana a las 10", "2026-02-21T10:00", None),
    ],
)
def test_times_written_in_german_french_spanish(text: str, start: str, end: str | None) -> None:
    found = find_times(text, ref=REF, tz=BERLIN, book=default_phrasebook())
    assert len(found) == 1
    assert found[0].start == datetime.fromisoformat(start).replace(tzinfo=BERLIN)
    expected_end = datetime.fromisoformat(end).replace(tzinfo=BERLIN) if end else None
    assert found[0].end == expected_end


@pytest.mark.parametrize(
    ("sentence", "by"),
    [
        ("Wir melden uns innerhalb von zwei Wochen bei Ihnen.", date(2026, 3, 6)),
        ("Sie erhalten bis Ende nächster Woche eine Rückmeldung.", date(2026, 2, 27)),
        ("Wir geben Ihnen bis zum 6. März Bescheid.", date(2026, 3, 6)),
        ("Nous reviendrons vers vous dans les prochains jours.", date(2026, 2, 25)),
        ("Nous vous donnerons une réponse d'ici vendredi.", date(2026, 2, 27)),
        ("Te daremos una respuesta en un plazo de 5 días hábiles.", date(2026, 2, 27)),
        ("Nos pondremos en contacto contigo en un plazo de dos semanas.", date(2026, 3, 6)),
    ],
)
def test_promised_reply_windows(sentence: str, by: date) -> None:
    found = promised_reply(sentence, ref=REF, tz=BERLIN, book=default_phrasebook())
    assert found is not None and found[0] == by


@pytest.mark.parametrize(
    "sentence",
    [
        "Bitte geben Sie uns bis Freitag Bescheid, ob Sie das Angebot annehmen.",
        "Merci de nous faire part de votre décision avant le 27 mars.",
        "Te agradeceríamos que nos comunicaras tu decisión antes del 27 de marzo.",
    ],
)
def test_a_deadline_for_the_candidate_is_no_promise(sentence: str) -> None:
    assert promised_reply(sentence, ref=REF, tz=BERLIN, book=default_phrasebook()) is None


def test_a_full_stop_after_a_day_number_ends_no_sentence() -> None:
    text = "Wir melden uns bis zum 6. März. Danke!"
    assert sentences(text) == ["Wir melden uns bis zum 6. März.", "Danke!"]


def test_names_with_umlauts_are_read_as_interviewers() -> None:
    result = mail(
        "Hallo Jane,\n\nwir möchten Sie zu einem Vorstellungsgespräch am Dienstag, 3. März "
        "um 14:00 Uhr einladen. Sie sprechen mit Jürgen Köhler und Zoë Müller.\n\n"
        "Viele Grüße\nAnna Roth",
        subject="Einladung zum Vorstellungsgespräch",
        sender="Anna Roth <anna.roth@nordwind.example>",
    )
    assert result.kind == Kind.INVITATION
    assert [a.name for a in result.interviewers] == ["Jürgen Köhler", "Zoë Müller"]


def test_ats_sender_name_is_the_company_not_a_person() -> None:
    result = mail(
        "Hallo Jane,\n\nleider haben wir uns für eine andere Kandidatin entschieden.\n\n"
        "Viele Grüße",
        subject="Ihre Bewerbung",
        sender="Kieselstein Software <no-reply@teamtailor-mail.com>",
    )
    assert result.kind == Kind.REJECTION
    assert result.company == "Kieselstein Software"


def test_accented_company_matches_its_plain_domain() -> None:
    result = mail(
        "Madame,\n\nnous avons le regret de vous informer que votre candidature n'a pas été "
        "retenue.\n\nCordialement,\nSophie Lambert\nChargée de recrutement\n"
        "Vallée Verte Énergie",
        subject="Votre candidature",
        sender="Sophie Lambert <sophie.lambert@valleeverte-energie.fr>",
    )
    assert result.kind == Kind.REJECTION
    assert result.company == "Vallée Verte Énergie"


def test_a_firm_of_partners_is_a_company() -> None:
    result = mail(
        "Hallo Frau Doe,\n\nanbei unsere Fallstudie; bitte bearbeiten Sie die Aufgabe bis "
        "Montag.\n\nBeste Grüße\nHenrik Fuchs\nPartner, Fuchs & Partner",
        subject="Fallstudie für die zweite Runde",
        sender="Henrik Fuchs <h.fuchs@fuchs-partner.de>",
    )
    assert result.kind == Kind.ASSESSMENT
    assert result.company == "Fuchs & Partner"


@pytest.mark.parametrize(
    ("body", "role"),
    [
        (
            "Ihre Bewerbung als Junior Product Manager. Wann passt es Ihnen?",
            "Junior Product Manager",
        ),
        (
            "la candidature au poste de Chef de Projet Éolien dans notre équipe",
            "Chef de Projet Éolien",
        ),
        ("el puesto de Analista de Crédito en Bancoriente con contrato", "Analista de Crédito"),
    ],
)
def test_role_ends_where_the_title_ends(body: str, role: str) -> None:
    result = mail(
        f"Hola,\n\n{body}. Lamentamos informarte que no seguiremos adelante.\n",
        subject="Candidatura",
        sender="Ana Gil <ana.gil@empresa.example>",
    )
    assert result.role == role


# Short messages in everyday wording, each once misread before its phrase was added.
EVERYDAY = [
    (
        "Ihre Bewerbung",
        "wir würden Sie gerne zu einem persönlichen Gespräch am 12.03.2026 um 10:00 Uhr in "
        "unser Büro einladen.",
        Kind.INVITATION,
        "2026-03-12T10:00",
    ),
    ("Ihre Bewerbung", "Leider können wir Ihnen keine Stelle anbieten.", Kind.REJECTION, None),
    ("Ihre Bewerbung", "leider müssen wir Ihnen absagen.", Kind.REJECTION, None),
    ("Re: Interview", "klar, Donnerstag 14 Uhr passt uns. Bis dann!", Kind.CONFIRMATION, None),
    (
        "Termin morgen",
        "leider muss ich unseren Termin morgen um 11 Uhr absagen, da ich krank bin.",
        Kind.CANCELLATION,
        "2026-02-21T11:00",
    ),
    (
        "Einladung",
        "wir laden dich herzlich zu unserer Weihnachtsfeier am 18. Dezember um 18 Uhr ein.",
        Kind.OTHER,
        None,
    ),
    (
        "Votre candidature",
        "Malgré l'intérêt de votre profil, nous sommes au regret de ne pas pouvoir y donner suite.",
        Kind.REJECTION,
        None,
    ),
    (
        "RE: Entretien",
        "C'est noté pour jeudi 12 mars à 14h. À jeudi !",
        Kind.CONFIRMATION,
        "2026-03-12T14:00",
    ),
    (
        "Tu candidatura",
        "Gracias por tu tiempo. En esta ocasión hemos optado por otro perfil.",
        Kind.REJECTION,
        None,
    ),
    (
        "Oferta",
        "¡Enhorabuena! Queremos que te unas a nuestro equipo. Te adjunto la oferta con las "
        "condiciones.",
        Kind.OFFER,
        None,
    ),
    (
        "Entrevista",
        "¿Podríamos pasar la entrevista del miércoles al jueves 12 de marzo a las 12:00? "
        "Disculpa el cambio.",
        Kind.RESCHEDULE,
        "2026-03-12T12:00",
    ),
    # A second batch, written after the fixes above, found these.
    (
        "Einladung Bewerbungsgespräch",
        "wir freuen uns, Sie zu einem Bewerbungsgespräch am Montag, den 9. März 2026, um "
        "13:30 Uhr in unsere Zentrale einzuladen.",
        Kind.INVITATION,
        "2026-03-09T13:30",
    ),
    (
        "Terminvorschlag",
        "wie wäre es mit Mittwoch, 11.03., 10 Uhr? Alternativ ginge auch Donnerstag.",
        Kind.INVITATION,
        "2026-03-11T10:00",
    ),
    (
        "Glückwunsch!",
        "herzlichen Glückwunsch - wir möchten dich sehr gerne in unserem Team begrüßen! Dein "
        "Vertrag ist bereits in Vorbereitung.",
        Kind.OFFER,
        None,
    ),
    (
        "Votre candidature",
        "Votre candidature a retenu notre attention. Nous aimerions organiser un entretien la "
        "semaine prochaine : quels sont vos créneaux ?",
        Kind.INVITATION,
        None,
    ),
    (
        "Bienvenue !",
        "Félicitations ! Nous sommes heureux de vous confirmer votre embauche en CDI à compter "
        "du 1er avril.",
        Kind.OFFER,
        None,
    ),
    (
        "Proceso de selección",
        "Nos gustaría citarte para una entrevista presencial el viernes 13 de marzo a las 9:30. "
        "¿Puedes confirmarnos asistencia?",
        Kind.INVITATION,
        "2026-03-13T09:30",
    ),
    (
        "Candidatura",
        "Te agradecemos tu interés, pero en esta ocasión tu perfil no encaja con lo que buscamos.",
        Kind.REJECTION,
        None,
    ),
    (
        "¡Bienvenida!",
        "¡Enhorabuena! Has sido seleccionada para el puesto. Te enviaremos el contrato esta "
        "semana.",
        Kind.OFFER,
        None,
    ),
]


@pytest.mark.parametrize(("subject", "text", "kind", "start"), EVERYDAY)
def test_everyday_wording(subject: str, text: str, kind: Kind, start: str | None) -> None:
    result = mail(f"Hallo Jane,\n\n{text}\n\nAnna", subject=subject, sender=SENDER)
    assert result.kind == kind, result.evidence
    if start is not None:
        assert result.interview is not None
        assert result.interview.start == datetime.fromisoformat(start).replace(tzinfo=BERLIN)


@pytest.mark.parametrize(
    ("subject", "text", "by"),
    [
        (
            "Ihre Bewerbung als Controller (m/w/d)",
            "vielen Dank für Ihre Bewerbung. Wir werden Ihre Unterlagen prüfen und uns in den "
            "nächsten Tagen bei Ihnen melden.",
            date(2026, 2, 25),
        ),
        (
            "Candidature Responsable Marketing",
            "Merci pour votre candidature. Nous l'étudierons avec attention et vous "
            "recontacterons sous 10 jours ouvrés si votre profil est retenu.",
            date(2026, 3, 6),
        ),
    ],
)
def test_acknowledgements_are_automatic_with_their_promise(
    subject: str, text: str, by: date
) -> None:
    result = mail(f"Bonjour,\n\n{text}\n\nL'équipe RH", subject=subject, sender=SENDER)
    assert result.kind == Kind.OTHER
    assert result.automatic
    assert result.promised_reply_by == by


@pytest.mark.parametrize(
    ("signature", "company"),
    [
        ("Lisa Maier\nRecruiterin bei Nordlicht Solar", "Nordlicht Solar"),
        ("Aurélie Blanc\nChargée de recrutement chez Mistral Conseil", "Mistral Conseil"),
        ("Nuria Campos\nTécnica de Selección en Levante Logística", "Levante Logística"),
    ],
)
def test_employer_named_after_the_title_in_a_signature(signature: str, company: str) -> None:
    result = mail(
        f"Hallo Jane,\n\nleider haben wir uns für eine andere Kandidatin entschieden.\n\n"
        f"Viele Grüße\n{signature}",
        subject="Ihre Bewerbung",
        sender="no-reply@hire.lever.co",
    )
    assert result.company == company
