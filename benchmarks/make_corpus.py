"""Generate a realistic corpus of IMR letters with their truth, deterministically for a seed.

usage: python benchmarks/make_corpus.py --letters N --seed S OUT_DIR
Writes OUT_DIR/letters/*.txt and OUT_DIR/truth.json (the schema of ../shared/gold/seen.json), so
the shared scorer checks extraction at scale:
  kg build OUT_DIR/letters && kg table decisions > d.csv && kg table cases > c.csv
  python ../shared/tools/score_extraction.py OUT_DIR/truth.json d.csv c.csv
Letters come in the 2014 layout (blank lines between text lines) and the 2016 layout (cover page,
PDF-style wrapping), with both reviewer wordings, every date format, 1 to 6 disputed items drawn
from brand names, generics, misspellings, compounds, services and classes of drugs ("Muscle relaxant
#60"), citations with every page format, wrapped item lines, partial authorizations, about 9 in 10
decisions upheld, extraction artefacts on a share of letters, and a few percent of bad inputs
(listed under "rejected").
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

# (as written, generics, class-appropriate guideline section)
DRUGS: list[tuple[str, list[str], str]] = [
    ("Soma", ["carisoprodol"], "Carisoprodol (Soma)"), ("Carisoprodol", ["carisoprodol"], "Carisoprodol (Soma)"),
    ("Norco", ["hydrocodone", "acetaminophen"], "Opioids, criteria for use"),
    ("Percocet", ["oxycodone", "acetaminophen"], "Opioids, criteria for use"),
    ("Oxycodone", ["oxycodone"], "Opioids, criteria for use"),
    ("OxyContin", ["oxycodone"], "Opioids, criteria for use"),
    ("Hydrocodone/APAP", ["hydrocodone", "acetaminophen"], "Opioids, criteria for use"),
    ("Tramadol", ["tramadol"], "Tramadol (Ultram)"), ("Ultram", ["tramadol"], "Tramadol (Ultram)"),
    ("Ultracet", ["tramadol", "acetaminophen"], "Tramadol (Ultram)"), ("Nucynta", ["tapentadol"], "Opioids"),
    ("Tapentadol", ["tapentadol"], "Opioids"), ("Morphine sulfate ER", ["morphine"], "Opioids"),
    ("MS Contin", ["morphine"], "Opioids"), ("Fentanyl patch", ["fentanyl"], "Duragesic (fentanyl transdermal system)"),
    ("Butrans", ["buprenorphine"], "Buprenorphine"), ("Buprenorphine", ["buprenorphine"], "Buprenorphine"),
    ("Methadone", ["methadone"], "Methadone"), ("Dilaudid", ["hydromorphone"], "Opioids"),
    ("Codeine", ["codeine"], "Opioids"), ("Restoril", ["temazepam"], "Benzodiazepines"),
    ("Temazepam", ["temazepam"], "Benzodiazepines"), ("Alprazolam", ["alprazolam"], "Benzodiazepines"),
    ("Xanax", ["alprazolam"], "Benzodiazepines"), ("Valium", ["diazepam"], "Benzodiazepines"),
    ("Diazepam", ["diazepam"], "Benzodiazepines"), ("Klonopin", ["clonazepam"], "Benzodiazepines"),
    ("Clonazepam", ["clonazepam"], "Benzodiazepines"), ("Lorazepam", ["lorazepam"], "Benzodiazepines"),
    ("Ambien", ["zolpidem"], "Insomnia treatment"), ("Zolpidem", ["zolpidem"], "Insomnia treatment"),
    ("Ambien CR", ["zolpidem"], "Insomnia treatment"), ("Lunesta", ["eszopiclone"], "Insomnia treatment"),
    ("Flexeril", ["cyclobenzaprine"], "Cyclobenzaprine (Flexeril)"),
    ("Cyclobenzaprine", ["cyclobenzaprine"], "Cyclobenzaprine (Flexeril)"),
    ("Tizanidine", ["tizanidine"], "Muscle relaxants (for pain)"), ("Zanaflex", ["tizanidine"], "Muscle relaxants"),
    ("Robaxin", ["methocarbamol"], "Muscle relaxants (for pain)"),
    ("Methocarbamol", ["methocarbamol"], "Muscle relaxants (for pain)"),
    ("Baclofen", ["baclofen"], "Muscle relaxants (for pain)"), ("Norflex", ["orphenadrine"], "Muscle relaxants"),
    ("Orphenadrine ER", ["orphenadrine"], "Muscle relaxants (for pain)"),
    ("Lorzone", ["chlorzoxazone"], "Muscle relaxants (for pain)"), ("Metaxalone", ["metaxalone"], "Muscle relaxants"),
    ("Neurontin", ["gabapentin"], "Gabapentin (Neurontin)"), ("Gabapentin", ["gabapentin"], "Gabapentin (Neurontin)"),
    ("Lyrica", ["pregabalin"], "Pregabalin (Lyrica)"), ("Pregabalin", ["pregabalin"], "Pregabalin (Lyrica)"),
    ("Topiramate", ["topiramate"], "Antiepilepsy drugs (AEDs) for pain"),
    ("Topamax", ["topiramate"], "Antiepilepsy drugs (AEDs) for pain"),
    ("Naproxen", ["naproxen"], "NSAIDs (non-steroidal anti-inflammatory drugs)"),
    ("Anaprox", ["naproxen"], "NSAIDs (non-steroidal anti-inflammatory drugs)"),
    ("Ibuprofen", ["ibuprofen"], "NSAIDs (non-steroidal anti-inflammatory drugs)"),
    ("Motrin", ["ibuprofen"], "NSAIDs (non-steroidal anti-inflammatory drugs)"),
    ("Celebrex", ["celecoxib"], "Celebrex (celecoxib)"), ("Celecoxib", ["celecoxib"], "Celebrex (celecoxib)"),
    ("Meloxicam", ["meloxicam"], "NSAIDs, specific drug list & adverse effects"),
    ("Mobic", ["meloxicam"], "NSAIDs, specific drug list & adverse effects"),
    ("Diclofenac", ["diclofenac"], "NSAIDs, specific drug list & adverse effects"),
    ("Voltaren gel", ["diclofenac"], "Topical analgesics"), ("Etodolac", ["etodolac"], "NSAIDs"),
    ("Nabumetone", ["nabumetone"], "NSAIDs"), ("Relafen", ["nabumetone"], "NSAIDs"),
    ("Ketorolac", ["ketorolac"], "Ketorolac (Toradol)"), ("Toradol", ["ketorolac"], "Ketorolac (Toradol)"),
    ("Omeprazole", ["omeprazole"], "NSAIDs, GI symptoms & cardiovascular risk"),
    ("Prilosec", ["omeprazole"], "NSAIDs, GI symptoms & cardiovascular risk"),
    ("Pantoprazole", ["pantoprazole"], "Proton Pump Inhibitors (PPIs)"),
    ("Protonix", ["pantoprazole"], "Proton Pump Inhibitors (PPIs)"),
    ("Ranitidine", ["ranitidine"], "NSAIDs, GI symptoms & cardiovascular risk"),
    ("Famotidine", ["famotidine"], "NSAIDs, GI symptoms & cardiovascular risk"),
    ("Duloxetine", ["duloxetine"], "Duloxetine (Cymbalta)"), ("Cymbalta", ["duloxetine"], "Duloxetine (Cymbalta)"),
    ("Amitriptyline", ["amitriptyline"], "Antidepressants for chronic pain"),
    ("Elavil", ["amitriptyline"], "Antidepressants for chronic pain"),
    ("Nortriptyline", ["nortriptyline"], "Antidepressants for chronic pain"),
    ("Trazodone", ["trazodone"], "Insomnia treatment"), ("Sertraline", ["sertraline"], "SSRIs"),
    ("Venlafaxine", ["venlafaxine"], "Venlafaxine (Effexor)"),
    ("Lidoderm", ["lidocaine"], "Lidoderm (lidocaine patch)"),
    ("Lidocaine 5% patch", ["lidocaine"], "Lidoderm (lidocaine patch)"),
    ("Terocin", ["lidocaine", "menthol", "methyl salicylate", "capsaicin"], "Topical analgesics"),
    ("Medrol dose pack", ["methylprednisolone"], "Oral corticosteroids"),
    ("Prednisone", ["prednisone"], "Oral corticosteroids"), ("Ondansetron", ["ondansetron"], "Antiemetics"),
    ("Docusate", ["docusate"], "Opioid-induced constipation treatment"),
    ("Fanatrex", ["gabapentin"], "Gabapentin (Neurontin)"), ("Tabradol", ["cyclobenzaprine"], "Muscle relaxants"),
    ("Dicopanol", ["diphenhydramine"], "Insomnia treatment"),
    ("Deprizine", ["ranitidine"], "NSAIDs, GI symptoms & cardiovascular risk"),
    ("Synapryn", ["tramadol"], "Tramadol (Ultram)"), ("Bupivicaine", ["bupivacaine"], "Topical analgesics"),
    ("Flurbiprofen", ["flurbiprofen"], "Topical analgesics"), ("Ketoprofen", ["ketoprofen"], "Topical analgesics"),
    ("Capsaicin", ["capsaicin"], "Capsaicin, topical"), ("Fioricet", ["butalbital", "acetaminophen", "caffeine"],
                                                         "Barbiturate-containing analgesic agents (BCAs)"),
    ("Fiorinal", ["butalbital", "aspirin", "caffeine"], "Barbiturate-containing analgesic agents (BCAs)"),
    ("Dyotin SR", ["gabapentin"], "Anti-epilepsy drugs (AEDs)"),
    ("Naprelan", ["naproxen"], "NSAIDs (non-steroidal anti-inflammatory drugs)"),
    ("Sumatriptan", ["sumatriptan"], "Triptans"), ("Quetiapine", ["quetiapine"], "Atypical antipsychotics"),
    ("Escitalopram", ["escitalopram"], "SSRIs"), ("Bupropion", ["bupropion"], "Bupropion (Wellbutrin)"),
    ("Mirtazapine", ["mirtazapine"], "Antidepressants"), ("Acetaminophen", ["acetaminophen"], "Acetaminophen (APAP)"),
    ("Glucosamine sulfate", ["glucosamine"], "Glucosamine (and Chondroitin Sulfate)"),
    ("Doral", ["quazepam"], "Benzodiazepines"), ("Ben-Gay", ["methyl salicylate", "menthol"], "Topical analgesics"),
    ("Icy Hot", ["methyl salicylate", "menthol"], "Topical analgesics"),
    ("Losartan", ["losartan"], "Hypertension treatment"),
    ("Hydrocodone-Acetaminophen", ["hydrocodone", "acetaminophen"], "Opioids, criteria for use"),
    ("Oxycodone-APAP", ["oxycodone", "acetaminophen"], "Opioids, criteria for use"),
    ("Tramadol-acetaminophen", ["tramadol", "acetaminophen"], "Tramadol (Ultram)"),
]
COMPOUND_PARTS = [("Gabapentin", "gabapentin"), ("Amitriptyline", "amitriptyline"), ("Bupivacine", "bupivacaine"),
                  ("Flurbiprofen", "flurbiprofen"), ("Baclofen", "baclofen"), ("Dexamethasone", "dexamethasone"),
                  ("Cyclobenzaprine", "cyclobenzaprine"), ("Lidocaine", "lidocaine"), ("Ketoprofen", "ketoprofen"),
                  ("Capsaicin", "capsaicin"), ("Menthol", "menthol"), ("Camphor", "camphor"), ("Ketamine", "ketamine")]
SERVICES: list[tuple[str, str, str]] = [  # item, guideline code, section
    ("Urine drug screen", "MTUS-CPMTG", "Drug testing"), ("Urinary Analysis", "MTUS-CPMTG", "Drug testing"),
    ("Lumbar epidural steroid injection at L4-L5", "MTUS-CPMTG", "Epidural steroid injections (ESIs)"),
    ("Right L5-S1 transforaminal epidural steroid injection", "MTUS-CPMTG", "Epidural steroid injections (ESIs)"),
    ("Physical therapy 2 times a week for 6 weeks for the lumbar spine", "MTUS-CPMTG", "Physical medicine"),
    ("Additional physical therapy for the cervical spine, 12 sessions", "MTUS-CPMTG", "Physical medicine"),
    ("Chiropractic treatment 2 times a week for 4 weeks", "MTUS-CPMTG", "Manual therapy & manipulation"),
    ("Acupuncture 6 sessions", "MTUS-ACUPUNCTURE", "Acupuncture Medical Treatment Guidelines"),
    ("MRI of the lumbar spine without contrast", "MTUS-ACOEM", "Special Studies"),
    ("MRI of the right shoulder", "MTUS-ACOEM", "Special Studies"),
    ("EMG/NCV of the bilateral lower extremities", "MTUS-ACOEM", "Special Studies"),
    ("X-rays of the cervical spine", "MTUS-ACOEM", "Special Studies"),
    ("Right knee arthroscopy with partial medial meniscectomy", "MTUS-ACOEM", "Surgical Considerations"),
    ("Post-operative physical therapy, 12 visits", "MTUS-POSTSURGICAL", "Knee"),
    ("TENS unit purchase", "MTUS-CPMTG", "TENS, chronic pain (transcutaneous electrical nerve stimulation)"),
    ("Lumbar support brace", "MTUS-ACOEM", "Physical Methods"), ("Functional restoration program, 80 hours",
                                                                "MTUS-CPMTG", "Functional restoration programs (FRPs)"),
    ("Cognitive behavioral therapy, 6 sessions", "MTUS-CPMTG", "Behavioral interventions"),
    ("Home health care 4 hours a day", "MTUS-CPMTG", "Home health services"),
    ("Trigger point injections", "MTUS-CPMTG", "Trigger point injections"),
]
# Items that name a class of drugs and no drug: item, quantity, MTUS section
CLASS_ITEMS: list[tuple[str, int | None, str]] = [
    ("Muscle relaxant #60", 60, "Muscle relaxants (for pain)"), ("Topical analgesic cream 240gm", None,
                                                                  "Topical analgesics"),
    ("Unspecified sleep aid #30", 30, "Insomnia treatment"), ("Anti-inflammatory medication #60", 60, "NSAIDs"),
    ("Opioid pain medication", None, "Opioids, criteria for use"),
]
SPECIALTIES = ["Occupational Medicine", "Anesthesiology", "Physical Medicine & Rehabilitation", "Internal Medicine",
               "Family Practice", "Orthopedic Surgery", "Preventive Medicine", "Neurology", "Psychiatry",
               "Emergency Medicine", "Chiropractic Medicine", "Acupuncture"]
SUBSPECIALTIES = ["Pain Medicine", "Pain Management", "Sports Medicine", "Medical Toxicology", "Spine Surgery"]
STATES = {"California": "CA", "Texas": "TX", "Ohio": "OH", "Pennsylvania": "PA", "New York": "NY",
          "Connecticut": "CT", "Florida": "FL", "Arizona": "AZ", "Washington": "WA", "Illinois": "IL",
          "New Jersey": "NJ", "West Virginia": "WV", "North Carolina": "NC", "Maryland": "MD"}
DIAGNOSES = ["cervical radiculopathy", "lumbar radiculopathy", "lumbar degenerative disc disease", "cervicalgia",
             "chronic pain syndrome", "sacroiliitis", "lumbago", "right shoulder impingement syndrome",
             "left knee medial meniscus tear", "carpal tunnel syndrome", "lumbar facet arthropathy",
             "myofascial pain syndrome", "insomnia", "depression", "anxiety", "thoracic sprain and strain",
             "right lateral epicondylitis", "cervical disc displacement", "failed back surgery syndrome",
             "complex regional pain syndrome of the left upper extremity", "gastroesophageal reflux disease",
             "work-related lumbar strain", "strain of the right shoulder-upper arm",
             # ICD-10 descriptions, with a comma of their own
             "radiculopathy, lumbar region", "sprain of ligaments of lumbar spine, initial encounter",
             "carpal tunnel syndrome, bilateral upper limbs",
             "strain of muscle, fascia and tendon of lower back, initial encounter"]
# ICD-10 codes a summary may give in brackets after a diagnosis ("Cervicalgia (M54.2)")
ICD10 = {"cervical radiculopathy": "M54.12", "lumbar radiculopathy": "M54.16", "cervicalgia": "M54.2",
         "lumbago": "M54.5", "sacroiliitis": "M46.1", "carpal tunnel syndrome": "G56.00", "insomnia": "G47.00",
         "radiculopathy, lumbar region": "M54.16", "chronic pain syndrome": "G89.4", "depression": "F32.9",
         "anxiety": "F41.9", "myofascial pain syndrome": "M79.1", "lumbar degenerative disc disease": "M51.36"}
NO_EVIDENCE = "The Claims Administrator did not cite any medical evidence for its decision."
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]


def _para(text: str, width: int) -> list[str]:
    """A paragraph wrapped as the PDFs wrap it (at a compound's hyphen too), then a blank line."""
    return [*textwrap.wrap(text, width), ""]


def fmt_date(d: dt.date, rng: random.Random) -> str:
    style = rng.randrange(6)
    if style == 0:
        return f"{MONTHS[d.month - 1]} {d.day}, {d.year}"
    if style == 1:
        return f"{d.month:02d}/{d.day:02d}/{d.year % 100:02d}"
    if style == 2:
        return f"{d.month}-{d.day}-{d.year}"
    if style == 3:
        return f"{d.month:02d}/{d.day:02d}/{d.year}"
    if style == 4:
        return f"{d.month}-{d.day}-{d.year % 100:02d}"
    return f"{MONTHS[d.month - 1]} {d.day:02d}, {d.year}"


def pages_text(pages: list[int], rng: random.Random) -> tuple[str, list[int]]:
    """A page reference in one of the forms letters use, and the pages it names."""
    style = rng.randrange(6)
    if style == 0 and len(pages) >= 1:
        return f"Page(s): {pages[0]}", [pages[0]]
    if style in (1, 4):
        start = pages[0]
        end = start + rng.randint(1, 3)
        label, to = (("Page(s): ", "-") if style == 1
                     else (rng.choice(["pp. ", "pages "]), rng.choice(["-", " to ", " through "])))
        return f"{label}{start}{to}{end}", list(range(start, end + 1))
    if style == 2:
        return "Page(s): " + "; ".join(map(str, pages)), pages
    if style == 5:
        return f"{rng.choice(['p.', 'pg.'])} {pages[0]}", [pages[0]]
    return f"page {pages[0]}", [pages[0]]


@dataclass
class Item:
    text: str
    generics: list[str]
    strength: float | None
    quantity: float | None
    refills: int | None
    section: str
    code: str = "MTUS-CPMTG"
    partial: tuple[str, str] | None = None  # original request, authorized portion


def misspelt(name: str, rng: random.Random) -> str:
    """A drug name as a typist misspells it, on 4% of the long ones: a letter lost or doubled, two
    swapped, or 'ph' for 'f' ('Flurbiprophen')."""
    if len(name) < 8 or not name.isalpha() or rng.random() >= 0.04:
        return name
    at = rng.randrange(2, len(name) - 1)
    typo = rng.choice(["lost", "doubled", "swapped", "ph"])
    if typo == "ph" and "f" in name[1:]:
        return name[0] + name[1:].replace("f", "ph", 1)
    if typo == "lost":
        return name[:at] + name[at + 1:]
    if typo == "doubled":
        return name[:at] + name[at] + name[at:]
    return name[:at - 1] + name[at] + name[at - 1] + name[at + 1:]


def make_item(rng: random.Random) -> Item:
    kind = rng.random()
    if kind < 0.35:
        name, code, section = rng.choice(SERVICES)
        return Item(name, [], None, None, None, section, code)
    if kind < 0.36:
        name, quantity, section = rng.choice(CLASS_ITEMS)
        return Item(name, [], None, quantity, None, section)
    if kind < 0.45:
        parts = rng.sample(COMPOUND_PARTS, rng.randint(2, 5))
        text = "/".join(f"{misspelt(n, rng)} {rng.choice([1, 2, 5, 10, 15, 20])}%" for n, _ in parts)
        grams = rng.choice([120, 180, 240])
        qty = rng.choice([1, 2])
        text += f" {grams}gms Qty: {qty}.00" if rng.random() < 0.6 else f" {grams} grams"
        return Item(text, sorted({g for _, g in parts}), None, qty if "Qty" in text else None, None,
                    "Topical analgesics")
    written, generics, section = rng.choice(DRUGS)
    written = misspelt(written, rng)
    strength = rng.choice([None, 1, 2, 5, 10, 20, 30, 40, 50, 100, 200, 300, 350, 500, 600, 750, 800])
    text = written if strength is None else f"{written} {strength}mg"
    directions = rng.choice(["", " one TID", " one by mouth twice a day", " 1 tab PO QHS PRN sleep", " BID",
                             " one every 6 hours as needed"])
    text += directions
    quantity = refills = None
    qstyle = rng.randrange(4)
    if qstyle == 0:
        quantity = rng.choice([30, 60, 90, 120, 180])
        text += f" #{quantity}"
    elif qstyle == 1:
        quantity = rng.choice([30, 60, 90, 120])
        text += f" QTY {quantity}.00"
    elif qstyle == 2:
        text += " Unknown prescription"
    if quantity and rng.random() < 0.2:
        refills = rng.choice([1, 2, 3])
        text += f" with {['', 'one', 'two', 'three'][refills]} refill{'s' if refills > 1 else ''}"
    item = Item(text, sorted(set(generics)), strength, quantity, refills, section)
    if quantity and rng.random() < 0.05:
        authorized = f"{written}{'' if strength is None else f' {strength}mg'} #{quantity // 2}"
        remaining = f"{written}{'' if strength is None else f' {strength}mg'} #{quantity - quantity // 2}"
        item.partial = (item.text, authorized)
        item.text, item.quantity, item.refills = remaining, quantity - quantity // 2, None
    return item


@dataclass
class Letter:
    id: str
    text: str
    truth: dict = field(default_factory=dict)


def cover_lines(case_number: str, decided: dt.date, injury: dt.date, ur: dt.date, rng: random.Random) -> list[str]:
    """The cover table as a PDF text tool reads it: pypdf (label by label), pdftotext (a column of
    labels, then its values) or pdftotext -layout ('Application' / 'Received:' around its value)."""
    left = [("Case Number", case_number), ("Date Assigned", f"{decided - dt.timedelta(days=25):%m/%d/%Y}"),
            ("Decision Date", f"{decided:%m/%d/%Y}"), ("Priority", "Standard")]
    right = [("Date of Injury", f"{injury:%m/%d/%Y}"), ("UR Denial Date", f"{ur:%m/%d/%Y}"),
             ("Application", f"{decided - dt.timedelta(days=30):%m/%d/%Y}")]
    tool = rng.random()
    if tool < 0.1:
        right[2] = ("Application\nReceived", right[2][1])
        return ["", *(part for column in (left, right) for part in
                      ("\n".join(f"{label}:" for label, _ in column), "", *(value for _, value in column), "")), ""]
    if tool < 0.2:
        return [f"{'Case Number:':<22} {case_number}",
                *(f"{a + ':':<22} {x:<20}  {b + ':':<22} {y}" for (a, x), (b, y) in zip(left[1:3], right[:2],
                                                                                        strict=True)),
                f"{'Priority:':<22} {'Standard':<20}  {'Application':<22} {right[2][1]}", " " * 45 + "Received:", ""]
    return ["", f"Case Number: {case_number}  ", f"Date Assigned: {left[1][1]} Date of Injury:  {right[0][1]} ",
            f"Decision Date: {left[2][1]} UR Denial Date:  {right[1][1]} ",
            "Priority:  Standard Application ", "Received:  ", f"{right[2][1]} ", ""]


def make_letter(i: int, rng: random.Random) -> Letter:
    cover = rng.random() < 0.6
    width = rng.randint(80, 100)  # the PDFs' lines: pages and fonts differ
    injury = dt.date(2016, 1, 1) - dt.timedelta(days=rng.randint(30, 9000))
    ur = injury + dt.timedelta(days=rng.randint(20, 2000))
    decided = max(ur, dt.date(2014, 1, 1)) + dt.timedelta(days=rng.randint(20, 60))
    age = rng.randint(22, 74)
    sex = rng.choice(["female", "male"])
    states = rng.sample(list(STATES), rng.randint(1, 3))
    specs = rng.sample(SPECIALTIES, rng.randint(1, 2))
    sub = rng.choice(SUBSPECIALTIES) if rng.random() < 0.3 else None
    diagnoses = rng.sample(DIAGNOSES, rng.randint(1, 6))
    items = [make_item(rng) for _ in range(rng.randint(1, 6))]
    outcomes = ["Upheld" if rng.random() < 0.9 else "Overturned" for _ in items]
    case_number = f"CM{decided.year % 100:02d}-{rng.randint(0, 9_999_999):07d}"
    lines: list[str] = []
    if cover:
        lines += cover_lines(case_number, decided, injury, ur, rng)
    lines += ["HOW THE IMR FINAL DETERMINATION WAS MADE",
              "MAXIMUS Federal Services sent the complete case file to an expert reviewer. He/she has no affiliation "
              "with the employer, employee, providers or the claims administrator."]
    if cover or rng.random() < 0.5:
        lines += ["He/she has been in active clinical practice for more than five years.", "",
                  "The Expert Reviewer has the following credentials:",
                  *textwrap.wrap(f"State(s) of Licensure: {', '.join(states)}", width),
                  *textwrap.wrap(f"Certification(s)/Specialty: {', '.join(specs + ([sub] if sub else []))}", width)]
    else:
        board = (" and " if rng.random() < 0.3 else ", ").join(specs)  # "Board Certified in A and B"
        sub_text = f", has a subspecialty in {sub}" if sub else ""
        where = " and ".join(states) if len(states) <= 2 else ", ".join(states[:-1]) + " and " + states[-1]
        lines += [f"The expert reviewer is Board Certified in {board}{sub_text} and is licensed to practice in "
                  f"{where}. He/she has been in active clinical practice for more than five years."]
    lines += ["", "CLINICAL CASE SUMMARY",
              "The expert reviewer developed the following clinical case summary based on a review of the case "
              "file, including all medical records:", ""]
    who = rng.choice([f"The injured worker is a {age} year old {sex}, who sustained an industrial injury on "
                      f"{fmt_date(injury, rng)}.",
                      f"The patient is a {age}-year-old {sex} who has submitted a claim for {diagnoses[0]}, "
                      f"associated with an industrial injury date of {fmt_date(injury, rng)}.",
                      f"This case involves a now {age}-year-old {sex} with a history of an occupational claim from "
                      f"{fmt_date(injury, rng)}.",
                      f"The injured worker is a {age}-year-old right-handed {sex}. DOI: {fmt_date(injury, rng)}.",
                      f"The patient is a {sex} who is {age} years of age, with a cumulative trauma injury through "
                      f"{fmt_date(injury, rng)}.",
                      # the sex only in pronouns
                      f"The applicant is a represented {age}-year-old former warehouse worker who has filed a claim "
                      f"for {diagnoses[0]} reportedly associated with an industrial injury of {fmt_date(injury, rng)}. "
                      + ("He reported that his pain persists." if sex == "male" else
                         "She reported that her pain persists.")])
    sep = "; " if rng.random() < 0.4 else ", "
    coded = rng.random() < 0.2
    written_dx = [f"{dx} ({ICD10[dx]})" if coded and dx in ICD10 else dx for dx in diagnoses]
    dx_text = sep.join(written_dx[:-1]) + (f"{sep}and " if len(diagnoses) > 1 else "") + written_dx[-1]
    numbered = " ".join(f"{n}. {dx}" for n, dx in enumerate(written_dx, 1))
    dx_sentence = rng.choice([f"The current diagnoses are documented as {dx_text}.",
                              f"Diagnoses included {dx_text}.",
                              f"The injured worker was diagnosed as having {dx_text}.",
                              f"The injured worker is undergoing treatment for {dx_text}.",
                              f"Diagnoses include: {numbered}.",
                              f"Diagnoses per the primary treating physician include {dx_text}.",
                              f"The applicant was given diagnoses of {dx_text}.",
                              f"The diagnoses have been noted as {dx_text}.",
                              f"Impression: {'; '.join(written_dx)}."])
    action = rng.choice(["denied", "non-certified", "modified"])
    ur_sentence = rng.choice([f"The Utilization Review (UR) dated {fmt_date(ur, rng)}, {action} the requests.",
                              f"Utilization review from {fmt_date(ur, rng)} {action} the request.",
                              f"The requests were {action} on {fmt_date(ur, rng)}.",
                              f"On {fmt_date(ur, rng)} the request for treatment was {action} by utilization review.",
                              f"The request was previously reviewed on {fmt_date(ur, rng)}. The requested treatment "
                              f"was previously {action} due to lack of documentation."])
    after = f"Treatment to date has included medications and activity modification. {ur_sentence}"
    records = f"{who} Medical records from {injury.year} to {ur.year} were reviewed."
    if rng.random() < 0.1:  # a list one a line, as a progress note lays it out, with or without bullets
        bullet = rng.choice(["", "- ", "\u2022 "])
        listed = [f"{bullet}{dx[:1].upper()}{dx[1:]}" for dx in diagnoses]
        lines += [*textwrap.wrap(records, width), "Diagnoses:", *listed, *textwrap.wrap(after, width)]
    else:
        lines += textwrap.wrap(f"{records} {dx_sentence} {after}", width)
    lines += ["", "IMR ISSUES, DECISIONS AND RATIONALES",
              "The Final Determination was based on decisions for the disputed items/services set forth below:", ""]
    truth_decisions = []
    for item, outcome in zip(items, outcomes, strict=True):
        head = item.text
        if item.partial:
            head = (f"{item.partial[0]} was the original request. {item.partial[1]} was authorized by the Claims "
                    f"Administrator. The remaining IMR eligible portion of the original request, {item.text} is")
        lines += _para(f"{head}: {outcome}", width)
        r_text, r_pages, r_codes = citation(item, rng)
        if rng.random() < 0.25:
            a_text, a_pages, a_codes = NO_EVIDENCE, [], []
        else:
            a_text, a_pages, a_codes = citation(item, rng)
        lines += _para(f"Claims Administrator guideline: {a_text}", width)
        lines += _para(f"MAXIMUS guideline: {r_text}", width)
        necessary = "medically necessary" if outcome == "Overturned" else "not medically necessary"
        rationale = (f"Decision rationale: The guidelines address this request. The records reviewed describe the "
                     f"history and the prior treatment in detail. Therefore, the request for {item.text} is "
                     f"{necessary}.")
        lines += _para(rationale, width)
        truth_decisions.append({
            "item": item.text, "outcome": outcome, "medications": item.generics, "strength_mg": item.strength,
            "quantity": item.quantity, "refills": item.refills, "reviewer_guidelines": r_codes,
            "reviewer_pages": sorted(set(r_pages)), "administrator_guidelines": a_codes,
            "administrator_pages": sorted(set(a_pages))})
    text = "\n".join(lines) + "\n"
    if not cover:  # the 2014 layout: a blank line after every text line
        text = "".join(f"{line} \n\n" for line in text.split("\n"))
    truth = {"case": {"age": age, "sex": sex, "injury_date": injury.isoformat(),
                      "reviewer_specialties": specs + ([sub] if sub else []),
                      "reviewer_states": [STATES[s] for s in states], "ur_date": ur.isoformat(),
                      "decisions": len(items)},
             "diagnoses_must_include": diagnoses, "decisions": truth_decisions}
    return Letter(case_number if cover else f"{i:06d}_{rng.getrandbits(40):010x}", text, truth)


def citation(item: Item, rng: random.Random) -> tuple[str, list[int], list[str]]:
    """One party's guideline line for an item: its text, pages and guideline codes."""
    code = item.code
    if code == "MTUS-CPMTG":
        pages = sorted(rng.sample(range(20, 120), rng.randint(1, 2)))
        page_text, named = pages_text(pages, rng)
        style = rng.randrange(4)
        if style == 0:
            text, got = f"Decision based on MTUS Chronic Pain Medical Treatment 2016, Section(s): {item.section}.", []
        elif style == 1:
            text, got = f"Decision based on MTUS Chronic Pain Treatment Guidelines {item.section} {page_text}.", named
        elif style == 2:  # the guideline by its own title, and pages without 'page' after a comma
            got = list(range(pages[0], pages[0] + rng.randint(1, 3) + 1))
            text = (f"Decision based on {rng.choice(['', 'the ', 'California MTUS '])}Chronic Pain Medical Treatment "
                    f"Guidelines (2009), {item.section}, {got[0]}-{got[-1]}.")
        else:
            text = f"Decision based on MTUS Chronic Pain Medical Treatment 2009, {item.section}, {page_text}."
            got = named
    elif code == "MTUS-ACOEM":
        chapter = rng.choice(["Low Back Complaints 2004", "Neck and Upper Back Complaints 2004",
                              "Shoulder Complaints 2004",
                              "Knee Complaints 2004"])
        text, got = f"Decision based on MTUS {chapter}, Section(s): {item.section}.", []
    elif code == "MTUS-ACUPUNCTURE":
        text, got = "Decision based on MTUS Acupuncture Medical Treatment Guidelines 2007.", []
    else:
        text, got = f"Decision based on MTUS Postsurgical Treatment 2009, Section(s): {item.section}.", []
    codes = [code]
    if rng.random() < 0.3:
        text += " Decision based on Non-MTUS Citation Official Disability Guidelines (ODG), Pain (Chronic)."
        codes.append("ODG")
    return text, got, sorted(codes)


def artefacts(text: str, rng: random.Random) -> bytes:
    """Extraction artefacts on a share of letters: CRLF, hyphenation, NBSP, page footers, BOM, cp1252,
    lost characters, glued sentences, ligatures and non-breaking hyphens."""
    roll = rng.random()
    if roll < 0.05:
        return text.replace("\n", "\r\n").encode()
    if roll < 0.10:
        lines = text.split("\n")
        breaks = list(range(30, len(lines), 30))
        bare = rng.random() < 0.5  # footers of a bare page number: "2", "3", ...
        for page, k in reversed(list(enumerate(breaks, start=2))):
            lines.insert(k, str(page) if bare else f"Page {page} of {len(breaks) + 1}")
        return "\n".join(lines).encode()
    if roll < 0.15:
        return text.replace(" the ", " the\u00a0").encode()
    if roll < 0.18:
        return b"\xef\xbb\xbf" + text.encode()
    if roll < 0.21:
        return text.replace("'", "\u2019").encode("cp1252", errors="replace")
    if roll < 0.26:
        return broken_words(text).encode()
    if roll < 0.29:
        return lost_characters(text, rng).encode()
    if roll < 0.31:  # the space after a sentence's period lost
        return re.sub(r"(?<=[a-z]{2})\.[ \t]+(?=[A-Z])", ".", text).encode()
    if roll < 0.33:  # a PDF font's ligatures and a word processor's hyphens
        return text.replace("fi", "\ufb01").replace("fl", "\ufb02").replace("-", "\u2011").encode()
    return text.encode()


_LINE_END_WORD = re.compile(r"[A-Za-z,.]$")
_LONG_WORD = re.compile(r"([a-z]{4})([a-z]{4,})\b")


def broken_words(text: str) -> str:
    """Every third line that a long lowercase word starts takes its first four letters and a hyphen
    ("... the current" / "medication list" -> "... the current medi-" / "cation list")."""
    lines = text.split("\n")
    broken = 0
    for i, line in enumerate(lines):
        following = next((j for j in range(i + 1, min(i + 3, len(lines))) if lines[j].strip()), None)
        if following is None or not _LINE_END_WORD.search(line.rstrip()):
            continue
        m = _LONG_WORD.match(lines[following])
        if m:
            broken += 1
            if broken % 3 == 0:
                lines[i] = f"{line.rstrip()} {m.group(1)}-"
                lines[following] = lines[following][len(m.group(1)):]
    return "\n".join(lines)


_LABELS = ("Claims Administrator guideline:", "MAXIMUS guideline:", "Decision rationale:", "Date of Injury:",
           "Certification(s)/Specialty:")


def lost_characters(text: str, rng: random.Random) -> str:
    """Characters the PDF lost: one label's colon everywhere, the colon before each outcome
    ("Soma 350mg #90  Upheld"), or the period that ends each rationale but the last ("... is not
    medically necessary" / the next item)."""
    roll = rng.random()
    if roll < 0.4:
        label = rng.choice(_LABELS)
        return text.replace(label, label[:-1])
    if roll < 0.7:
        return re.sub(r":(\s*)(Upheld|Overturned)([ \t]*\n)", r"\1 \2\3", text)
    last = text.rstrip().rfind("necessary")
    return re.sub(r"(medically necessary)\.([ \t]*\n)", r"\1\2", text[:last]) + text[last:]


BAD_INPUTS = [
    b"",
    bytes(range(256)) * 4,
    b"NOTICE OF INDEPENDENT MEDICAL REVIEW DETERMINATION\n1) MAXIMUS Federal Services, Inc. has determined the "
    b"request for a 28 day functional restoration program is not medically necessary and appropriate.\n",
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--letters", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--bad-share", type=float, default=0.02)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    folder = args.out / "letters"
    folder.mkdir(parents=True, exist_ok=True)
    truth: dict[str, dict] = {}
    rejected: list[str] = []
    for i in range(args.letters):
        if rng.random() < args.bad_share:
            name = f"bad_{i:06d}"
            if rng.random() < 0.5:
                data = rng.choice(BAD_INPUTS)
            else:  # a real-looking letter cut short mid-rationale
                text = make_letter(i, rng).text
                data = text[: text.rindex("Decision rationale:") + 40].encode()
            (folder / f"{name}.txt").write_bytes(data)
            rejected.append(name)
            continue
        letter = make_letter(i, rng)
        while letter.id in truth:
            letter = make_letter(i, rng)
        (folder / f"{letter.id}.txt").write_bytes(artefacts(letter.text, rng))
        truth[letter.id] = letter.truth
    about = (f"Generated by benchmarks/make_corpus.py --letters {args.letters} --seed {args.seed}; same schema as "
             "../shared/gold/seen.json. 'rejected' lists inputs a correct build must reject.")
    (args.out / "truth.json").write_text(json.dumps({"_about": about, "letters": truth, "rejected": rejected},
                                                    indent=1))
    print(f"{len(truth)} letters and {len(rejected)} bad inputs in {folder}; truth in {args.out / 'truth.json'}")


if __name__ == "__main__":
    main()
