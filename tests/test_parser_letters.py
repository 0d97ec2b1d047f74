"""Concrete values read off real letters, per field."""

from __future__ import annotations

import datetime as dt

import pytest

from kg.parser import parse_file, parse_text
from kg.parser.citations import parse_guideline_line
from kg.parser.medications import item_details, service_type
from kg.parser.reviewer import parse_reviewer
from kg.parser.summary import parse_summary, regions_of
from kg.parser.text import clean
from kg.record import LetterRecord

from .conftest import ALL_LETTERS, GOLD, LETTERS
from .test_artefacts import facts


def _parse(name: str) -> LetterRecord:
    return parse_file(LETTERS / f"{name}.txt")


@pytest.mark.parametrize("path", ALL_LETTERS, ids=lambda p: p.stem)
def test_every_fixture_letter_parses_with_decisions(path):
    record = parse_file(path)
    assert record.decisions, path.name
    assert all(d.outcome.value in ("Upheld", "Overturned") for d in record.decisions)


@pytest.mark.parametrize("letter", sorted(GOLD), ids=str)
def test_gold_case_fields(letter):
    want = GOLD[letter]["case"]
    r = _parse(letter)
    assert r.age.value == want["age"]
    assert r.sex.value == want["sex"]
    assert r.injury_date.value.isoformat() == want["injury_date"]
    assert [s.name.value for s in r.reviewer.specialties] == want["reviewer_specialties"]
    assert sorted(s.value for s in r.reviewer.states) == sorted(want["reviewer_states"])
    ur = r.utilization_review.date
    assert (ur.value.isoformat() if ur else None) == want["ur_date"]
    assert len(r.decisions) == want["decisions"]
    labels = " ; ".join(d.label for d in r.diagnoses)
    for phrase in GOLD[letter]["diagnoses_must_include"]:
        assert phrase in labels


@pytest.mark.parametrize("letter", sorted(GOLD), ids=str)
def test_gold_decision_fields(letter):
    r = _parse(letter)
    for got, want in zip(r.decisions, GOLD[letter]["decisions"], strict=True):
        assert got.item.value == want["item"]
        assert got.outcome.value == want["outcome"]
        assert sorted(i.generic for i in got.ingredients) == sorted(want["medications"])
        assert (got.strength_mg.value if got.strength_mg else None) == want["strength_mg"]
        assert (got.quantity.value if got.quantity else None) == want["quantity"]
        assert (got.refills.value if got.refills else None) == want["refills"]
        for party, key in (("reviewer", "reviewer"), ("administrator", "administrator")):
            cites = [c for c in got.citations if c.party == party]
            assert sorted({c.guideline for c in cites}) == sorted(want[f"{key}_guidelines"])
            assert sorted({p for c in cites for p in c.pages}) == want[f"{key}_pages"]


def test_cover_page_fields():
    cover = _parse("CM17-0003284").cover
    assert cover.case_number.value == "CM17-0003284"
    assert cover.date_assigned.value == dt.date(2017, 1, 10)
    assert cover.injury_date.value == dt.date(2016, 10, 20)
    assert cover.decision_date.value == dt.date(2017, 2, 10)
    assert cover.ur_denial_date.value == dt.date(2016, 12, 9)
    assert cover.priority.value == "Standard"
    assert cover.application_received.value == dt.date(2017, 1, 4)


def test_wrapped_item_line_is_joined():
    first = _parse("CM17-0003284").decisions[0]
    assert first.item.value == ("Chiropractic treatment for cervical and lumbar spine, left wrist/hand, "
                                "3 times a week for 4 weeks")
    assert first.service_type == "chiropractic"
    assert first.item.span.quote.endswith("3 times a week for 4 \nweeks")


def test_reviewer_sentence_wording_with_subspecialty():
    reviewer = _parse("001_31f77f8318a90c33").reviewer
    assert [(s.name.value, s.subspecialty) for s in reviewer.specialties] == [
        ("Anesthesiology", False), ("Pain Medicine", True)]
    assert [s.value for s in reviewer.states] == ["CT"]


def test_reviewer_field_wording_with_many_states():
    reviewer = _parse("CM16-0248655").reviewer
    assert [s.name.value for s in reviewer.specialties] == [
        "Preventive Medicine", "Occupational Medicine", "Medical Toxicology"]
    assert [s.value for s in reviewer.states] == ["OH", "WV", "CA"]


def test_compound_ingredients_with_percentages_and_classes():
    compound = _parse("004_cb07c567c7678ea3").decisions[1]
    got = [(i.generic, i.percent, i.drug_class) for i in compound.ingredients]
    assert got == [("gabapentin", 10.0, "anticonvulsant"), ("amitriptyline", 10.0, "antidepressant"),
                   ("bupivacaine", 5.0, "local anesthetic"), ("flurbiprofen", 20.0, "NSAID"),
                   ("baclofen", 10.0, "muscle relaxant"), ("dexamethasone", 2.0, "corticosteroid")]
    assert compound.ingredients[2].written.value == "Bupivacine"


def test_a_medication_has_its_drugbank_id_however_it_is_written():
    """Soma (our alias of carisoprodol) and Bupivacine (a misspelling) name the same DrugBank drugs
    as the generics' own names do, so every letter says the same of a medication."""
    written = {(i.written.value, i.generic, i.drugbank_id)
               for name in ("000_ed7318db5454d5ef", "004_cb07c567c7678ea3")
               for d in _parse(name).decisions for i in d.ingredients}
    assert {("Soma", "carisoprodol", "DB00395"), ("Bupivacine", "bupivacaine", "DB00297"),
            ("Alprazolam", "alprazolam", "DB00404")} <= written
    ids: dict[str, set[str | None]] = {}
    for path in ALL_LETTERS:
        for d in _parse(path.stem).decisions:
            for i in d.ingredients:
                ids.setdefault(i.generic, set()).add(i.drugbank_id)
    assert [generic for generic, found in ids.items() if len(found) > 1] == []


def test_directions_refills_and_brand_resolution():
    pantoprazole = _parse("CM16-0249170").decisions[0]
    assert pantoprazole.directions.value == "one by mouth, twice a day"
    assert pantoprazole.quantity.value == 60
    assert pantoprazole.refills.value == 1
    lorzone = _parse("CM17-0005412").decisions[0]
    assert [i.generic for i in lorzone.ingredients] == ["chlorzoxazone"]
    assert lorzone.directions.value == "one by mouth three times a day"
    assert lorzone.strength_mg.value == 750


def test_overturned_outcomes_and_conclusions():
    decisions = _parse("CM17-0007142").decisions
    assert [d.outcome.value for d in decisions] == [
        "Overturned", "Overturned", "Overturned", "Upheld", "Overturned", "Overturned", "Upheld",
        "Upheld", "Upheld"]
    assert [d.medically_necessary.value for d in decisions] == [
        d.outcome.value == "Overturned" for d in decisions]
    assert decisions[7].item.value == "Associated surgical service: Cold therapy unit"
    assert decisions[7].service_type == "durable medical equipment"


def test_conclusion_in_unusual_wording():
    only = _parse("CM16-0236969").decisions[0]
    assert only.medically_necessary.value is False


def test_citation_kinds_and_no_evidence():
    decisions = _parse("CM16-0248655").decisions
    reviewer = [(c.guideline, c.sections) for c in decisions[0].citations if c.party == "reviewer"]
    assert reviewer == [("ODG", ("Hips and pelvis (Acute and Chronic)", "MRI (magnetic resonance imaging)")),
                        ("ACOEM", ("ACOEM hip and groin disorders", "Diagnostic testing", "MRI"))]
    no_evidence = _parse("CM16-0247274").decisions[1]
    assert no_evidence.no_evidence_cited == ("administrator", "reviewer")
    assert no_evidence.citations == ()


@pytest.mark.parametrize("line", ["None cited.", "No guidelines cited", "N/A", "Not provided.",
                                  "The claims administrator did not cite any guidelines.",
                                  "The Claims Administrator did not cite any evidence-based criteria for its decision.",
                                  "The claims administrator did not provide any guidelines."])
def test_a_line_saying_in_few_words_that_nothing_was_cited(line):
    reading = clean(line)
    found = parse_guideline_line(reading, 0, len(reading.text), "administrator")
    assert (found.no_evidence, found.citations) == (True, ())


def test_other_source_is_kept_by_name():
    assistant = _parse("CM17-0007142").decisions[1]
    admin = [c for c in assistant.citations if c.party == "administrator"]
    assert [(c.guideline, c.source_name) for c in admin] == [
        ("OTHER", "Centers for Medicare and Medicaid services")]


def test_mtus_sections_split_without_breaking_names():
    cites = _parse("CM16-0248471").decisions[0].citations
    assert [c.sections for c in cites] == [
        ("TENS, chronic pain (transcutaneous electrical nerve stimulation)",)] * 2
    soma = [c.sections for c in _parse("004_cb07c567c7678ea3").decisions[0].citations]
    assert soma == [(), ("Muscle relaxants",), (), ("Carisoprodol (Soma)", "Muscle relaxants")]
    multi = [c for c in _parse("CM17-0003623").decisions[1].citations if c.party == "reviewer"]
    assert [c.guideline for c in multi] == ["MTUS-ACOEM"] * 4 + ["MTUS-CPMTG"]


def test_diagnoses_split_on_semicolons_and_regions():
    dx = _parse("CM17-0010728").diagnoses
    assert [d.written.value for d in dx] == [
        "left shoulder labral tear, possible rotator cuff tear and impingement syndrome",
        "left thumb non-displaced fracture"]
    assert dx[0].body_regions == ("shoulder",)
    assert dx[1].body_regions == ("wrist and hand",)


def test_every_span_slices_to_its_quote():
    for path in ALL_LETTERS:
        r = parse_file(path)
        for d in r.decisions:
            for fact in (d.item, d.outcome, d.rationale, *(i.written for i in d.ingredients),
                         *(c.written for c in d.citations)):
                assert r.text[fact.span.start:fact.span.end] == fact.span.quote


def test_partial_authorization_item_is_the_remaining_portion():
    text = (LETTERS / "000_ed7318db5454d5ef.txt").read_text()
    partial = ("Norco 10/325mg #120 was the original request. Norco 10/325mg #60 was authorized by the Claims \n"
               "Administrator. The remaining IMR eligible portion of the original request, Norco 10/325mg #60 "
               "is: Upheld")
    record = parse_text(text.replace("Soma tablets 350mg: Upheld", partial), "p", "p.txt")
    d = record.decisions[0]
    assert d.item.value == "Norco 10/325mg #60"
    assert d.original_request.value == "Norco 10/325mg #120"
    assert d.authorized_portion.value == "Norco 10/325mg #60"
    assert sorted(i.generic for i in d.ingredients) == ["acetaminophen", "hydrocodone"]
    assert (d.quantity.value, d.strength_mg.value) == (60, 10)


def _with_item(item_lines: str) -> LetterRecord:
    text = (LETTERS / "CM17-0005412.txt").read_text()
    return parse_text(text.replace("Lorzone 750mg one by mouth three times a day #45:  Upheld", item_lines), "x", "x")


def test_item_wrapped_after_a_quantity_label():
    wrapped = "Gabapentin 10%/Amitriptyline 10%/Bupivacine 5%/Flurbiprofen 20% 180gms Qty:\n1.00: Upheld"
    d = _with_item(wrapped).decisions[0]
    assert d.item.value == "Gabapentin 10%/Amitriptyline 10%/Bupivacine 5%/Flurbiprofen 20% 180gms Qty: 1.00"
    assert d.quantity.value == 1


def test_partial_authorization_over_several_lines():
    d = _with_item("Norco 10/325mg #120 was the original request.\nNorco 10/325mg #60 was authorized by the "
                   "Claims Administrator. The remaining IMR eligible\nportion of the original request, Norco "
                   "10/325mg #60 is: Upheld").decisions[0]
    assert (d.item.value, d.original_request.value) == ("Norco 10/325mg #60", "Norco 10/325mg #120")


def test_section_named_like_a_chapter_is_a_section():
    text = (LETTERS / "CM17-0005412.txt").read_text().replace(
        "MAXIMUS guideline: Decision based on MTUS Chronic Pain Medical Treatment 2016, \n"
        "Section(s): Muscle relaxants (for pain).",
        "MAXIMUS guideline: Decision based on MTUS Postsurgical Treatment 2009, Section(s): Knee.")
    cites = [c for c in parse_text(text, "x", "x").decisions[0].citations if c.party == "reviewer"]
    assert [(c.guideline, c.sections) for c in cites] == [("MTUS-POSTSURGICAL", ("Knee",))]


@pytest.mark.parametrize("written, labels", [
    ("thoracic sprain and strain", ["thoracic sprain and strain"]),
    ("cervicalgia, anxiety and depression", ["cervicalgia", "anxiety", "depression"]),
    ("lumbago, lumbar radiculopathy and cervical disc displacement",
     ["lumbago", "lumbar radiculopathy", "cervical disc displacement"]),
    # two places share one condition
    ("cervical and lumbar strain", ["cervical and lumbar strain"]),
    ("insomnia, neck and low back pain", ["insomnia", "neck and low back pain"]),
    # places after the first item are where its condition is (CM17-0011730), not diagnoses of their own
    ("strains and sprains sustained cervical, thoracic and lumbar spine, shoulders and elbows",
     ["strains and sprains sustained cervical, thoracic and lumbar spine, shoulders and elbows"]),
    ("low back pain, neck, shoulders", ["low back pain, neck, shoulders"]),
    ("low back pain, neck pain, shoulders", ["low back pain", "neck pain", "shoulders"]),  # not all places
])
def test_diagnosis_lists_split_at_the_final_and(written, labels):
    text = (LETTERS / "CM17-0010728.txt").read_text().replace(
        "Diagnoses are left shoulder labral tear, possible rotator cuff tear and impingement syndrome; left \nthumb "
        "non-displaced fracture.", f"Diagnoses are {written}.")
    got = [d.label for d in parse_text(text, "x", "x").diagnoses]
    assert got[: len(labels)] == labels


@pytest.mark.parametrize("phrase, age, sex", [
    ("This is a 66 year old male", 66, "male"),
    ("The patient is a 45 y/o female", 45, "female"),
    ("this 52 y.o. gentleman", 52, "male"),
    ("The injured worker is a 38-year-old woman", 38, "female"),
    ("The injured worker is a 45-year-old right-handed female", 45, "female"),
    ("This is a 53-year-old Hispanic male", 53, "male"),
    ("The injured worker is a 59-year-old, right hand dominant, male", 59, "male"),
    ("The injured worker is a 66 year\nold male", 66, "male"),  # wrapped at a page's line end
    ("Patient is a 45 yo M", 45, "male"),
    # in words
    ("The patient is a forty-five year old male", 45, "male"), ("She is a Sixty year-old woman", 60, "female"),
    ("The applicant is a nineteen-year-old female", 19, "female"),
    # "age N" after a word for the worker
    ("The claimant is a female, age 61, with neck pain", 61, "female"),
    ("The patient, aged 53, is a man who had surgery at age 16", 53, "male"),
    ("The injured worker is a 45-year-old (45 yo) female who sustained an injury", 45, "female"),
    ("The patient is a female who is 45 years of age", 45, "female"),
    ("The patient is a 45 yr. old female", 45, "female"),
])
def test_age_and_sex_wordings(phrase, age, sex):
    text = (LETTERS / "CM17-0021791.txt").read_text().replace("This is a 66 year old male", phrase)
    r = parse_text(text, "x", "x")
    assert (r.age.value, r.sex.value) == (age, sex)


@pytest.mark.parametrize("summary, sex", [
    ("The applicant is a represented 45-year-old former warehouse worker who has filed a claim for low back pain. "
     "The applicant reported that his pain was 7/10. He was given Norco.", "male"),
    ("The injured worker is a 45-year-old who fell at work. Her pain persists and she is not working.", "female"),
    ("The injured worker is a 45-year-old who fell at work. His pain persists.", None),  # one pronoun
    ("The injured worker is a 45-year-old who fell. He/she was seen; her provider noted his pain.", None),  # both
])
def test_sex_from_pronouns_when_no_word_names_it(summary, sex):
    reading = clean(summary)
    found = parse_summary(reading, 0, len(reading.text)).sex
    assert (found.value if found else None) == sex
    if found:  # the evidence is the first pronoun
        assert found.span.quote.lower() in ("his", "her")


@pytest.mark.parametrize("summary, age, sex, quote", [
    ("Sex: Female. Age: 45. Date of injury: 1/2/2012.", 45, "female", "Female"),  # a progress note's fields
    ("Gender: M. Age: 45. Date of injury: 1/2/2012.", 45, "male", "M"),
    ("Mr. X is a 45-year-old who fell at work.", 45, "male", "Mr"),  # a title
    ("Ms. X is a 45-year-old who fell at work.", 45, "female", "Ms"),
    ("The patient is a 45 y.o.m. who fell at work.", 45, "male", "m"),  # the sex glued to 'y.o.'
    ("45 YO male injured at work.", 45, "male", "male"),  # no article
])
def test_age_and_sex_from_fields_and_titles(summary, age, sex, quote):
    reading = clean(summary)
    found = parse_summary(reading, 0, len(reading.text))
    assert (found.age.value, found.sex.value, found.sex.span.quote) == (age, sex, quote)


def test_item_line_wrapped_after_an_abbreviation():
    d = _with_item("Norco 10/325mg one p.o. t.i.d.\n#120: Upheld").decisions[0]
    assert d.item.value == "Norco 10/325mg one p.o. t.i.d. #120"
    assert d.quantity.value == 120


def test_drug_matching_is_the_dictionary_packages_exact_matching():
    """kg reads drug-named-entity-recognition's dictionary file itself (importing the package builds
    a fuzzy index it does not use); its matching must find what the package's `find_drugs` finds,
    on every run of words of a real letter, but for what is no drug (a class: 'Analgesics') and a
    drug named with its salt, which is the drug."""
    from drug_named_entity_recognition import find_drugs

    from kg.parser.medications import _SALTS, WORD, dictionary_drugs
    from kg.vocab import is_a_drug

    def named(name: str, drugbank: str | None, s: int, e: int, window: list[str]) -> tuple:
        return (s, e) if e - s == 2 and window[s + 1].lower() in _SALTS else (name, drugbank, s, e)

    found = 0
    for path in ALL_LETTERS:
        words = [m.group(0) for m in WORD.finditer(path.read_text(encoding="utf-8", errors="replace"))]
        for i in range(0, len(words), 10):
            window = words[i:i + 12]  # overlapping, so that pairs across windows are tried too
            theirs = [named(str(d.get("name", "")), d.get("drugbank_id"), s, e, window)
                      for d, s, e in find_drugs(window) if is_a_drug(d)]
            ours = [named(d.name, d.drugbank_id, s, e, window) for d, s, e in dictionary_drugs(window)]
            assert ours == theirs, (path.name, window)
            found += len(ours)
    assert found > 100


@pytest.mark.parametrize("written, read", [
    # line-end hyphens in the PDF text of the real letters: most are a compound's
    ("the right shoulder-\nupper arm", "the right shoulder-upper arm"),  # CM16-0236969
    ("unless a three or four-\nweek period", "unless a three or four-week period"),  # CM17-0000846
    ("sleep medications, anti-\nanxiety medications", "sleep medications, anti-anxiety medications"),
    ("the peer-reviewed evidence-\nbased guidelines", "the peer-reviewed evidence-based guidelines"),
    ("has failed over-the-\ncounter sleep aids", "has failed over-the-counter sleep aids"),
    ("Guidelines state Anti-\ninflammatories are", "Guidelines state Anti-inflammatories are"),
    ("the requested \"Pre-\noperative EKG\"; pre-operative", "the requested \"Pre-operative EKG\"; pre-operative"),
    ("stenosis at L5-\nS1.", "stenosis at L5-S1."),
    ("a follow-\nup visit", "a follow-up visit"),
    # a word the letter spells whole elsewhere, or broken into pieces that are not two words
    ("the guide-\nlines also recommend; MTUS guidelines", "the guidelines also recommend; MTUS guidelines"),
    ("the electro-\nmyography studies", "the electromyography studies"),
    ("lumbar radi-\nculopathy", "lumbar radiculopathy"),
    ("the medi-\ncation list", "the medication list"),
    ("is gene-\nrally accepted", "is generally accepted"),  # two words, but one word together
])
def test_line_end_hyphen_is_a_compound_or_a_broken_word(written, read):
    assert clean(written).text == read


def test_compound_hyphenated_at_a_line_break_keeps_its_hyphen_in_a_diagnosis():
    labels = [d.label for d in _parse("CM16-0236969").diagnoses]
    assert labels == ["strain of the muscles, fascia and tendon of the right shoulder-upper arm",  # ICD-10's words
                      "right strain of muscle fascia and tendons of the neck",
                      "right strain of muscle and tendons of the wall of the thoracic spine", "right ulna fracture"]


@pytest.mark.parametrize("item, generics", [
    ("Flurbiprophen 20%/Lidocane 5% cream 180gm", ["flurbiprofen", "lidocaine"]),  # 'ph' for 'f'; a letter lost
    ("Cyclobenzeprine 7.5mg #60", ["cyclobenzaprine"]),
    ("Neurotin 600mg #90", ["gabapentin"]),  # a brand the drug dictionary knows
    ("Percoset 10/325mg #120", ["acetaminophen", "oxycodone"]),
    ("Methocarbomol 750mg #60", ["methocarbamol"]),
    ("Capsacin 0.025% cream", ["capsaicin"]),
    ("Zanaphlex 4mg #60", ["tizanidine"]), ("Diclophenac 75mg", ["diclofenac"]),  # 'ph' sounds as 'f': no edit
    ("Bacofen 10mg #60", ["baclofen"]),  # one edit from baclofen; as it sounds, also from Banophen
    # words near a drug name that are not one: too far, too short, common, or another first letter
    ("Orthotics", []), ("Lumbosacral orthosis", []), ("Xanex 1mg #30", []), ("Lotion 120ml", []),
])
def test_misspelt_drug_names(item, generics):
    reading = clean(item)
    assert sorted(i.generic for i in item_details(reading, 0, len(reading.text)).ingredients) == sorted(generics)


@pytest.mark.parametrize("item, generics", [
    # brands of drugs disputed in workers' comp that the drug dictionary does not know (kg/vocab/drugs.json)
    ("Horizant 600mg #60", [("gabapentin enacarbil", "DB08872", "anticonvulsant")]),
    ("Zohydro ER 20mg #60", [("hydrocodone", "DB00956", "opioid")]),
    ("Embeda 30mg #60", [("morphine", "DB00295", "opioid"), ("naltrexone", "DB00704", "opioid antagonist")]),
    ("Exalgo 8mg #30", [("hydromorphone", "DB00327", "opioid")]),
    ("Senna 8.6mg #60", [("sennosides", "DB11365", "laxative")]),
    ("Dendracin lotion 120ml", [("benzocaine", "DB01086", "local anesthetic"), ("menthol", None, "topical analgesic"),
                                ("methyl salicylate", "DB09543", "NSAID")]),
    ("Synovacin 500mg #90", [("glucosamine", None, "dietary supplement")]),
    ("Butalbital/APAP/caffeine #30", [("butalbital", "DB00241", "sedative-hypnotic"),
                                      ("acetaminophen", "DB00316", "analgesic"), ("caffeine", None, "stimulant")]),
    ("ASA 81mg", [("aspirin", "DB00945", "NSAID")]),
    ("MSIR 15mg #60", [("morphine", "DB00295", "opioid")]),
    ("Synvisc-One injection", [("hyaluronic acid", "DB08818", "viscosupplement")]),
    ("Fexmid 7.5mg #60", [("cyclobenzaprine", "DB00924", "muscle relaxant")]),
    ("Vicoprofen 7.5/200mg #60", [("hydrocodone", "DB00956", "opioid"), ("ibuprofen", "DB01050", "NSAID")]),
    ("Colace 100mg #60", [("docusate", "DB11089", "laxative")]),
    # the dictionary's combinations are their ingredients, each with its own id and class
    ("Duexis 800/26.6mg #90", [("famotidine", "DB00927", "H2 blocker"), ("ibuprofen", "DB01050", "NSAID")]),
    ("Arthrotec 75mg #60", [("diclofenac", "DB00586", "NSAID"), ("misoprostol", "DB00929", "GI protectant")]),
    ("Excedrin #30", [("acetaminophen", "DB00316", "analgesic"), ("aspirin", "DB00945", "NSAID"),
                      ("caffeine", None, "stimulant")]),
    ("Zubsolv 5.7/1.4mg #30", [("buprenorphine", "DB00921", "opioid"), ("naloxone", "DB01183", "opioid antagonist")]),
    # a qualifier or a route in the dictionary's name is not part of the generic
    ("Belbuca 300mcg #60", [("buprenorphine", "DB00921", "opioid")]),
    ("Lidocaine viscous 2%", [("lidocaine", "DB00281", "local anesthetic")]),
    # drugs of workers' comp letters the dictionary names without a class
    ("Paxil 20mg #30", [("paroxetine", "DB00715", "antidepressant")]),
    ("Keppra 500mg #60", [("levetiracetam", "DB11868", "anticonvulsant")]),
    ("Provigil 200mg #30", [("modafinil", "DB00745", "stimulant")]),
    # medical foods are not the drugs their names recall
    ("Gabadone #60", [("gabadone", None, "medical food")]),
    ("Trepadone #120", [("trepadone", None, "medical food")]),
    # names the dictionary lacks, and classes for drugs outside pain care that injured workers also take
    ("Demerol 50mg #30", [("meperidine", "DB00454", "opioid")]),
    ("Sinemet 25/100mg #90", [("carbidopa", "DB00190", "antiparkinson"), ("levodopa", "DB01235", "antiparkinson")]),
    ("Talwin 50mg", [("pentazocine", "DB00652", "opioid")]),
    ("Xarelto 20mg #30", [("rivaroxaban", "DB06228", "anticoagulant")]),
    # a compounding pharmacy's short names: 'Gaba' in a compound is gabapentin, not GABA
    ("Gaba/Keto/Lido cream 240gm", [("gabapentin", "DB00996", "anticonvulsant"), ("ketoprofen", "DB01009", "NSAID"),
                                    ("lidocaine", "DB00281", "local anesthetic")]),
    ("Flurbi/Cyclo cream", [("flurbiprofen", "DB00712", "NSAID"), ("cyclobenzaprine", "DB00924", "muscle relaxant")]),
    # brands the dictionary lacks
    ("Fenortho 400mg #60", [("fenoprofen", "DB00573", "NSAID")]), ("Actiq 200mcg", [("fentanyl", "DB00813", "opioid")]),
    ("Intermezzo 3.5mg #30", [("zolpidem", "DB00425", "sedative-hypnotic")]),
    ("Metaxall 800mg #60", [("metaxalone", "DB00660", "muscle relaxant")]),
    ("Hypertensa #60", [("hypertensa", None, "medical food")]),
    ("Qutenza patch", [("capsaicin", None, "topical analgesic")]),
    ("Salonpas patches #30", [("menthol", None, "topical analgesic"), ("methyl salicylate", "DB09543", "NSAID")]),
    ("TGHot 180gm", [("camphor", "DB01744", "topical analgesic"), ("capsaicin", None, "topical analgesic"),
                     ("gabapentin", "DB00996", "anticonvulsant"), ("menthol", None, "topical analgesic"),
                     ("tramadol", "DB00193", "opioid")]),
    ("Senokot-S #60", [("docusate", "DB11089", "laxative"), ("sennosides", "DB11365", "laxative")]),
    ("Augmentin 875mg #20", [("amoxicillin", "DB01060", "antibiotic"), ("clavulanic acid", "DB00766", "antibiotic")]),
    ("Fiorinal 50/325/40mg #30", [("aspirin", "DB00945", "NSAID"), ("butalbital", "DB00241", "sedative-hypnotic"),
                                  ("caffeine", None, "stimulant")]),
    ("Dyotin SR 250mg #90", [("gabapentin", "DB00996", "anticonvulsant")]),
    ("Cosamin DS #90", [("chondroitin", None, "dietary supplement"), ("glucosamine", None, "dietary supplement")]),
    ("Apptrim #120", [("apptrim", None, "medical food")]),
    ("Oxy IR 5mg #60", [("oxycodone", "DB00497", "opioid")]),
    ("Naprelan 500mg #30", [("naproxen", "DB00788", "NSAID")]),
    ("Norgesic Forte #60", [("aspirin", "DB00945", "NSAID"), ("caffeine", None, "stimulant"),
                            ("orphenadrine", "DB01173", "muscle relaxant")]),
    ("Percodan 4.8355/325mg #60", [("aspirin", "DB00945", "NSAID"), ("oxycodone", "DB00497", "opioid")]),
    ("Zilretta 32mg injection", [("triamcinolone", "DB00620", "corticosteroid")]),
    # one drug however named: the dictionary's Miralax is 'Polyethylene Glycol 3350', apart from 'Polyethylene glycol'
    ("Miralax 17g #30", [("polyethylene glycol", "DB09287", "laxative")]),
    ("Polyethylene glycol 3350 17gm powder", [("polyethylene glycol", "DB09287", "laxative")]),
    ("PEG 3350 powder", [("polyethylene glycol", "DB09287", "laxative")]),
    ("Flur-Baclo-Cyclo cream", [("flurbiprofen", "DB00712", "NSAID"), ("baclofen", "DB00181", "muscle relaxant"),
                                ("cyclobenzaprine", "DB00924", "muscle relaxant")]),
    # classes of generics an injured worker may also take
    ("Levorphanol 2mg #60", [("levorphanol", "DB00854", "opioid")]),
    ("Amlodipine 5mg #30", [("amlodipine", "DB00381", "antihypertensive")]),
    ("Estradiol 1mg #30", [("estradiol", None, "hormone")]),  # a drug the dictionary lacks: no DrugBank id
    ("Doral 15mg #30", [("quazepam", "DB01589", "benzodiazepine")]),
    ("Ketamine 10% cream 120gm", [("ketamine", "DB01221", "NMDA antagonist")]),
    ("Losartan 50mg #30", [("losartan", "DB00678", "antihypertensive")]),
    ("Folic acid 1mg #30", [("folic acid", "DB00158", "dietary supplement")]),
    ("Prochlorperazine 10mg #30", [("prochlorperazine", "DB00433", "antiemetic")]),
    ("Nicotine gum 2mg", [("nicotine", None, "smoking cessation aid")]),
    # over-the-counter rubs in their classic formulation
    ("Ben-Gay ointment", [("menthol", None, "topical analgesic"), ("methyl salicylate", "DB09543", "NSAID")]),
    ("Icy Hot patch #30", [("menthol", None, "topical analgesic"), ("methyl salicylate", "DB09543", "NSAID")]),
    # and the brands' lidocaine products, which are not their classic formulation with lidocaine added
    ("Aspercreme cream", [("trolamine salicylate", "DB11079", "NSAID")]),
    ("Aspercreme with lidocaine 4% cream", [("lidocaine", "DB00281", "local anesthetic")]),
    ("Icy Hot Lidocaine patch #15", [("lidocaine", "DB00281", "local anesthetic"),
                                     ("menthol", None, "topical analgesic")]),
    # Soma Compound is carisoprodol with aspirin; Mylanta's three; supplements the dictionary lacks
    ("Soma Compound #60", [("aspirin", "DB00945", "NSAID"), ("carisoprodol", "DB00395", "muscle relaxant")]),
    ("Mylanta 30ml", [("aluminum hydroxide", "DB06723", "antacid"), ("magnesium hydroxide", "DB09104", "laxative"),
                      ("simethicone", "DB09512", "antiflatulent")]),
    ("Zinc 50mg #30", [("zinc", None, "dietary supplement")]),
    ("Zinc oxide cream", [("zinc oxide", "DB09321", "skin protectant")]),
    ("Vitamin B-complex #30", [("vitamin b complex", None, "dietary supplement")]),
    ("Multivitamin #30", [("multivitamin", None, "dietary supplement")]),
    ("Finasteride 5mg #30", [("finasteride", "DB01216", "5-alpha reductase inhibitor")]),
    ("Atomoxetine 40mg #30", [("atomoxetine", "DB00289", "norepinephrine reuptake inhibitor")]),
    ("Quinine sulfate 324mg #30", [("quinine", "DB00468", "antimalarial")]),
    ("Epipen 0.3mg", [("epinephrine", "DB00668", "sympathomimetic")]),
    # a supplement, a homeopathic injection and a plant extract injected near nerves
    ("Probiotics #60", [("probiotic", None, "dietary supplement")]),
    ("Traumeel injection", [("traumeel", None, "homeopathic")]),
    ("Sarapin injection to the lumbar spine", [("sarracenia purpurea", "DB13965", "analgesic")]),
])
def test_brand_names_resolve_to_their_generics(item, generics):
    reading = clean(item)
    details = item_details(reading, 0, len(reading.text))
    assert [(i.generic, i.drugbank_id, i.drug_class) for i in details.ingredients] == generics


@pytest.mark.parametrize("item, generics", [
    # a drug and its salt is the drug, however the dictionary names the pair
    ("Ketorolac tromethamine 10mg #20", ["ketorolac"]), ("Docusate sodium 100mg #60", ["docusate"]),
    ("Levothyroxine sodium 50mcg #30", ["levothyroxine"]), ("Duloxetine hydrochloride 60mg #30", ["duloxetine"]),
    ("Naproxen sodium 550mg #60", ["naproxen"]), ("Magnesium oxide 400mg #30", ["magnesium oxide"]),
    # a salt the dictionary reads as a drug of its own ('Sulfates', 'Citric Acid') after a drug is its salt
    ("Glucosamine sulfate 500mg #90", ["glucosamine"]), ("Chondroitin sulfate #90", ["chondroitin"]),
    ("Glucosamine and chondroitin sulfate #90", ["glucosamine", "chondroitin"]),
    ("Tolmetin mesylate 400mg", ["tolmetin"]), ("Sildenafil citrate 100mg", ["sildenafil"]),
    # a class of drugs, an enzyme or a protein names no drug ('Analgesics, Opioid' is the dictionary's class)
    ("Topical analgesic cream", []), ("Opioid medication #60", []), ("NSAID #60", []),
    ("Antidepressant medication", []), ("Anticonvulsants", []), ("Antibiotics", []), ("Hypnotics #30", []),
    ("Proton pump inhibitor #30", []), ("Narcotic analgesics", []), ("Genetic testing for opioid abuse", []),
    ("Kera-Tek analgesic gel 4oz", ["menthol", "methyl salicylate"]),
    # a dosage form names no drug, nor does 'caps' (capsules; the dictionary's CAPS is a buffer)
    ("Sprix nasal spray", ["ketorolac"]), ("Omeprazole 20mg caps #60", ["omeprazole"]),
    ("Gabapentin 300mg CAPS #90", ["gabapentin"]),
    ("Ketoprofen 10% in Lipoderm base 120gm", ["ketoprofen"]),  # a compounding base, not a misspelt Lidoderm
    # a combination's generics joined by hyphens, as a word the dictionary does not name whole
    ("Hydrocodone-Acetaminophen 10-325mg #90", ["hydrocodone", "acetaminophen"]),
    ("Hydrocodone-APAP 10/325mg #60", ["hydrocodone", "acetaminophen"]),
    ("Oxycodone-acetaminophen 10/325mg #120", ["oxycodone", "acetaminophen"]),
    ("Tramadol-acetaminophen 37.5/325mg #60", ["tramadol", "acetaminophen"]),
    ("Butalbital-APAP-caffeine #30", ["butalbital", "acetaminophen", "caffeine"]),
    ("Flurbiprofen-Cyclobenzaprine-Menthol cream", ["flurbiprofen", "cyclobenzaprine", "menthol"]),
    ("Naproxen-sodium 550mg #60", ["naproxen"]),
    # hyphenated words of services name no drug
    ("Sit-stand workstation", []), ("Follow-up visit", []), ("X-ray of the lumbar spine", []),
    ("Post-operative physical therapy x 12", []), ("Trigger-point injections x 4", []),
])
def test_drug_names_not_classes(item, generics):
    reading = clean(item)
    assert [i.generic for i in item_details(reading, 0, len(reading.text)).ingredients] == generics


@pytest.mark.parametrize("item, strength", [
    ("Theraflex 10mg #30", 10.0),  # a name the dictionary lacks: "mg" still says the strength
    ("Muscle relaxant 350mg #60", 350.0),
    ("Trigger point injection 10mg", None),  # a service has no strength
    ("Physical therapy 12 sessions", None),
])
def test_strength_of_an_item_without_a_known_drug(item, strength):
    reading = clean(item)
    details = item_details(reading, 0, len(reading.text))
    assert details.ingredients == ()
    assert (details.strength_mg.value if details.strength_mg else None) == strength


@pytest.mark.parametrize("item, drug_class, quote, kind", [
    ("Muscle relaxant #60", "muscle relaxant", "Muscle relaxant", None),
    ("Topical analgesic cream 240gm", "topical analgesic", "Topical analgesic", None),
    ("Anti-inflammatory medication #60", "NSAID", "Anti-inflammatory", None),
    ("Unspecified sleep aid", "sedative-hypnotic", "sleep aid", None),
    ("Proton pump inhibitor #30", "proton pump inhibitor", "Proton pump inhibitor", None),
    # a medication for opioid-induced constipation is a laxative, not an opioid
    ("Opioid-induced constipation medication", "laxative", "Opioid-induced constipation", None),
    ("Medication for opioid induced constipation #30", "laxative", "opioid induced constipation", None),
    ("Anti-anxiety medication", "anxiolytic", "Anti-anxiety medication", None),
    ("Antispasmodic #60", "muscle relaxant", "Antispasmodic", None),  # as the MTUS groups them
    ("Blood pressure medication", "antihypertensive", "Blood pressure medication", None),
    ("Headache medication #30", "antimigraine", "Headache medication", None),
    ("Antihistamine #30", "antihistamine", "Antihistamine", None),
    # a service's rule comes first: these name a class but request a service
    ("Genetic testing for opioid abuse", None, None, "laboratory test"),
    ("Opioid detoxification program", None, None, "inpatient care"),
    ("Steroid injection, left knee", None, None, "injection"),
    # a drug named is the drug, not its class; nothing named is 'other'
    ("Cyclobenzaprine (muscle relaxant) 10mg #60", None, None, None),
    ("Unknown medication", None, None, "other"),
])
def test_an_item_naming_a_class_of_drugs(item, drug_class, quote, kind):
    reading = clean(item)
    details = item_details(reading, 0, len(reading.text))
    requested = details.requested_drug_class
    got = (requested.value, requested.span.quote) if requested else (None, None)
    assert (*got, details.service_type) == (drug_class, quote, kind)


@pytest.mark.parametrize("item, kind, generics", [
    # a test of a drug's level or use requests a test, not the drug it names
    ("Vitamin D level", "laboratory test", []), ("Serum B12 and folate levels", "laboratory test", []),
    ("Urine drug screen for Norco and Soma", "drug test", []), ("Testosterone levels", "laboratory test", []),
    # the drug itself, and a level of the spine
    ("Vitamin D 50,000 IU #12", None, ["vitamin d"]), ("Vitamin B12 injection", None, ["cyanocobalamin"]),
    ("Testosterone cypionate 200mg/ml injection", None, ["testosterone"]), ("L4-5 single level fusion", "surgery", []),
])
def test_a_test_of_a_drug_names_no_drug(item, kind, generics):
    reading = clean(item)
    details = item_details(reading, 0, len(reading.text))
    assert (details.service_type, [i.generic for i in details.ingredients]) == (kind, generics)


@pytest.mark.parametrize("item, kind", [
    ("Urine toxicology screen", "drug test"), ("Lumbar epidural steroid injection", "epidural steroid injection"),
    ("Aquatic therapy x 12", "physical therapy"), ("Trigger point injections x 4", "injection"),
    ("Anterior cervical discectomy and fusion C5-6", "surgery"), ("Home H-wave device", "durable medical equipment"),
    ("Continuous passive motion device", "durable medical equipment"), ("Shower chair", "durable medical equipment"),
    ("Massage therapy x 6", "massage therapy"), ("Occupational therapy 8 sessions", "occupational therapy"),
    ("ESWT for the right shoulder", "extracorporeal shockwave therapy"), ("Polysomnogram", "sleep study"),
    ("Genetic testing for opioid risk", "laboratory test"), ("Discogram L3-S1", "imaging"),
    ("Cognitive behavioral therapy 6 sessions", "psychological treatment"), ("Gym membership", "gym membership"),
    ("Psychotherapy x 6 sessions", "psychological treatment"), ("Pain management follow up", "consultation"),
    ("Spinal cord stimulator trial", "surgery"), ("Intrathecal pump", "surgery"),
    ("Aqua therapy 2x4", "physical therapy"), ("Blood work", "laboratory test"), ("Prolotherapy", "injection"),
    # what an item is for decides, not the tool that guides it, nor the surgery a visit is about
    ("Ultrasound guided injection, right shoulder", "injection"), ("Diagnostic ultrasound of the shoulder", "imaging"),
    ("Right knee injection under fluoroscopic guidance", "injection"), ("Neurosurgery consultation", "consultation"),
    ("Vascutherapy rental", "durable medical equipment"), ("Ice machine", "durable medical equipment"),
    ("Viscosupplementation", "injection"), ("Multidisciplinary pain program", "functional restoration program"),
    ("Home exercise kit", "durable medical equipment"), ("Inpatient detoxification program", "inpatient care"),
    ("Interpreter services", "interpreter"), ("Transportation to and from medical appointments", "transportation"),
    ("Nursing care 4 hours a day", "home health"),
    ("Durable medical equipment", "durable medical equipment"), ("DME: shower chair", "durable medical equipment"),
    ("Hearing aids", "durable medical equipment"), ("Vestibular therapy x 6", "physical therapy"),
    ("ORIF right ankle", "surgery"), ("Removal of hardware, left wrist", "surgery"), ("Echocardiogram", "imaging"),
    ("Home exercise program", "physical therapy"), ("Shoulder immobilizer", "durable medical equipment"),
    ("Vascutherm rental x 30 days", "durable medical equipment"), ("Relaxation training", "psychological treatment"),
    ("Bilateral L4-5 RF ablation", "injection"), ("Right L5 RF neurotomy", "injection"),
    ("Cervical RFA C5-6", "injection"),
    ("Hepatic and renal function tests", "laboratory test"), ("LFTs", "laboratory test"),
    ("Hemoglobin A1c", "laboratory test"),
    ("Kyphoplasty T12", "surgery"), ("Raised toilet seat", "durable medical equipment"),
    ("Grab bars for the shower", "durable medical equipment"), ("Reacher", "durable medical equipment"),
    ("Second opinion with a neurosurgeon", "consultation"), ("Eye exam", "consultation"),
    ("Speech therapy x 12 sessions", "speech therapy"), ("MRI examination of the knee", "imaging"),
])
def test_service_types(item, kind):
    assert service_type(item) == kind


@pytest.mark.parametrize("written, regions", [
    ("right ulna fracture", ("arm",)), ("left distal radius fracture", ("arm",)), ("radiculopathy", ()),
    ("facial contusion", ("head",)), ("TMJ syndrome", ("head",)), ("rib fractures", ("chest",)),
    ("left buttock and left thigh sciatic pain", ("hip", "leg")), ("right hip labral tear", ("hip",)),
    ("degenerative labral tears", ("shoulder",)), ("cervical radiculopathy", ("neck",)),
    ("adhesive capsulitis", ("shoulder",)), ("left clavicle fracture", ("shoulder",)), ("coccydynia", ("low back",)),
    ("achilles tendinitis", ("ankle and foot",)), ("metatarsalgia", ("ankle and foot",)), ("acl tear", ("knee",)),
    ("hamstring strain", ("leg",)), ("gastrocnemius strain", ("leg",)), ("gastritis", ("digestive system",)),
    ("inguinal hernia", ("abdomen",)), ("traumatic brain injury", ("head",)), ("tinnitus", ("head",)),
    # a word inside another is not the region: herniation, revision
    ("cervical disc herniation", ("neck",)), ("revision lumbar fusion", ("low back",)),
    ("fibromyalgia", ()), ("hypertension", ()),
    # a labral tear or impingement of the hip is no shoulder's
    ("labral tear of the hip", ("hip",)), ("hip impingement", ("hip",)), ("femoroacetabular impingement", ("hip",)),
    ("shoulder impingement syndrome", ("shoulder",)), ("ac joint arthritis", ("shoulder",)),
    ("si joint dysfunction", ("low back",)), ("whiplash injury", ("neck",)), ("bicipital tendinitis", ("shoulder",)),
    ("PTSD", ("mental health",)), ("adjustment disorder with mixed anxiety and depressed mood", ("mental health",)),
    ("sleep disturbance", ("mental health",)), ("panic disorder", ("mental health",)),
])
def test_body_regions_of_a_diagnosis(written, regions):
    assert regions_of(written.lower()) == regions


def test_body_regions_read_off_real_diagnoses():
    regions = {d.label: d.body_regions for name in ("CM16-0236969", "CM17-0006045", "CM17-0009282")
               for d in _parse(name).diagnoses}
    assert regions["right ulna fracture"] == ("arm",)
    assert regions["facial contusion"] == ("head",)
    assert regions["left buttock and left thigh sciatic pain"] == ("hip", "leg")


@pytest.mark.parametrize("line, citations", [
    ("MTUS 2016 Chronic Pain Guidelines, Opioids, page 78", [("MTUS-CPMTG", (78,), ("Opioids",))]),
    ("MTUS Postsurgical Treatment Guidelines, Shoulder", [("MTUS-POSTSURGICAL", (), ("Shoulder",))]),
    ("MTUS American College of Occupational and Environmental Medicine (ACOEM), 2nd Edition, (2004), Chapter 9, "
     "page 207", [("MTUS-ACOEM", (207,), ())]),
    ("MTUS Clinical Topics: Low Back Complaints (ACOEM Practice Guidelines, 2nd Edition (2004), Chapter 12), page 309",
     [("MTUS-ACOEM", (309,), ())]),
    ("MTUS Chronic Pain Medical Treatment Guidelines, Knee Complaints 2004, page 340",
     [("MTUS-CPMTG", (), ()), ("MTUS-ACOEM", (340,), ())]),
    ("Other Medical Treatment Guideline or Medical Evidence: Official Disability Guidelines (ODG), Pain Chapter",
     [("ODG", (), ("Pain chapter",))]),
    ("Non-MTUS Citation ODG Low Back Chapter, Lumbar Supports; Other Medical Treatment Guideline or Medical Evidence: "
     "Medline Plus", [("ODG", (), ("Low back chapter", "Lumbar supports")), ("OTHER", (), ())]),
    # several sources in one clause: each its own citation
    ("MTUS Chronic Pain Medical Treatment Guidelines, page 29; and ODG Pain Chapter, Carisoprodol",
     [("MTUS-CPMTG", (29,), ()), ("ODG", (), ("Pain chapter", "Carisoprodol"))]),
    ("Non-MTUS Citation ODG, Pain chapter and ACOEM Practice Guidelines, Chapter 12",
     [("ODG", (), ("Pain chapter",)), ("ACOEM", (), ("Chapter 12",))]),
    ("the MTUS Chronic Pain Medical Treatment Guidelines", [("MTUS-CPMTG", (), ())]),
    # the regulations that adopt an MTUS part: they name the guideline, not a section of it
    ("MTUS Chronic Pain Medical Treatment Guidelines 8 C.C.R. 9792.20 - 9792.26 MTUS (Effective July 18, 2009) "
     "Page(s): 111-113, Topical Analgesics", [("MTUS-CPMTG", (111, 112, 113), ("Topical analgesics",))]),
    ("MTUS (Effective July 18, 2009) Page(s): 78", [("MTUS-CPMTG", (78,), ())]),
    ("MTUS 9792.24.1 Acupuncture Medical Treatment Guidelines", [("MTUS-ACUPUNCTURE", (), ())]),
    ("MTUS 8 C.C.R. 9792.24.3, Knee", [("MTUS-POSTSURGICAL", (), ("Knee",))]),
    # "which is (not) part of the MTUS" says where the source stands, not a section of it
    ("MTUS Chronic Pain Medical Treatment Guidelines, Soma, page 29, which is part of MTUS; and Official "
     "Disability Guidelines (ODG), Pain Chapter, Soma, which is not part of MTUS.",
     [("MTUS-CPMTG", (29,), ("Soma",)), ("ODG", (), ("Pain chapter", "Soma"))]),
    ("MTUS Chronic Pain Medical Treatment Guidelines, Pages 111-113 of 127", [("MTUS-CPMTG", (111, 112, 113), ())]),
    ("Non -MTUS Citation ODG, Pain Chapter", [("ODG", (), ("Pain chapter",))]),  # a space before the hyphen
    ("Non-MTUS Citation http://www.drugs.com/pro/soma.html, Soma",  # the address is the source, not a section
     [("OTHER", (), ("Soma",))]),
    ("MTUS Chronic Pain Medical Treatment Guidelines, When to Continue Opioids topic, page 80.",  # "X topic"
     [("MTUS-CPMTG", (80,), ("When to continue opioids",))]),
    # a section's title with a comma in it is one section (CM16-0249170)
    ("MTUS Chronic Pain Medical Treatment 2016, Section(s): NSAIDs, GI symptoms & cardiovascular risk, Proton Pump "
     "Inhibitors (PPIs)", [("MTUS-CPMTG", (), ("NSAIDs, GI symptoms & cardiovascular risk",
                                              "Proton pump inhibitors (PPIs)"))]),
    ("MTUS Chronic Pain Medical Treatment Guidelines, NSAIDs, GI Symptoms, and Cardiovascular Risk topic, page 69.",
     [("MTUS-CPMTG", (69,), ("NSAIDs, GI symptoms, and cardiovascular risk",))]),
    # the chapters of ACOEM's third edition that the MTUS adopted
    ("MTUS Cervical and Thoracic Spine Disorders 2016, Section(s): MRI", [("MTUS-ACOEM", (), ("MRI",))]),
    ("MTUS Hand, Wrist, and Forearm Disorders 2016, Section(s): Splinting", [("MTUS-ACOEM", (), ("Splinting",))]),
    # 'and' between pages joins them
    ("MTUS: Chronic Pain Medical Treatment Guidelines, pages 60-61, 74-76 and 124.",
     [("MTUS-CPMTG", (60, 61, 74, 75, 76, 124), ())]),
    # the words that join one source to the next are no section
    ("MTUS Chronic Pain Medical Treatment Guidelines, Opioids, pages 76-80 and on the Non-MTUS Official Disability "
     "Guidelines (ODG), Pain Chapter.",
     [("MTUS-CPMTG", (76, 77, 78, 79, 80), ("Opioids",)), ("ODG", (), ("Pain chapter",))]),
    ("MTUS ACOEM Practice Guidelines, 2nd Edition (2004), Chapter 12, Low Back Complaints, pages 303-305; and the "
     "Official Disability Guidelines (ODG), Low Back Chapter", [("MTUS-ACOEM", (303, 304, 305), ()),
                                                               ("ODG", (), ("Low back chapter",))]),
    ("Non-MTUS Official Disability Guidelines (ODG), Low Back Chapter, Lumbar supports",  # no 'Citation'
     [("ODG", (), ("Low back chapter", "Lumbar supports"))]),
    # its update date is no topic
    ("ODG-TWC Pain Procedure Summary last updated 11/21/2016", [("ODG", (), ("Pain procedure summary",))]),
    # ODG's longer names, and its publisher's, are no sections
    ("Non-MTUS Citation Official Disability Guidelines-Treatment in Workers Compensation (ODG-TWC), Pain Procedure "
     "Summary", [("ODG", (), ("Pain procedure summary",))]),
    ("Non-MTUS Citation Work Loss Data Institute, ODG, Low Back", [("ODG", (), ("Low back",))]),
    ("Non-MTUS Citation Medical Food, Official Disability Guidelines, Pain chapter",
     [("ODG", (), ("Medical food", "Pain chapter"))]),
    ("MTUS Official Disability Guidelines (ODG) Pain (Chronic) Chapter, Opioids",  # ODG's name in an MTUS clause
     [("ODG", (), ("Pain (Chronic) chapter", "Opioids"))]),
    # the guideline's page count after a range
    ("MTUS Chronic Pain Medical Treatment Guidelines Page(s): 41-42, 63-64 of 127.",
     [("MTUS-CPMTG", (41, 42, 63, 64), ())]),
    # an edition written out between two titles of one guideline
    ("MTUS ACOEM Practice Guidelines, Second Edition (2004), Chapter 11, Forearm, Wrist, and Hand Complaints, "
     "pages 268-269", [("MTUS-ACOEM", (268, 269), ())]),
    # ACOEM's title in its longer forms, and a bare chapter after its topic: one citation
    ("MTUS ACOEM Guidelines, Chapter 13, Knee Complaints, Table 13-6, page 347.",
     [("MTUS-ACOEM", (347,), ("Table 13-6",))]),
    ("MTUS ACOEM Occupational Medicine Practice Guidelines, Second Edition (2004), Chapter 6, page 115",
     [("MTUS-ACOEM", (115,), ())]),
    ("MTUS ACOEM Independent Medical Examinations and Consultations, Chapter 7, page 127",
     [("MTUS-ACOEM", (127,), ("Independent medical examinations and consultations", "Chapter 7"))]),
    ("MTUS ACOEM Chapter 7 - Independent Medical Examinations and Consultations, page 127",
     [("MTUS-ACOEM", (127,), ("Independent medical examinations and consultations",))]),
    ("MTUS ACOEM, Chapter 6, Pain, Suffering, and the Restoration of Function, page 115",
     [("MTUS-ACOEM", (115,), ("Pain, suffering, and the restoration of function",))]),
    # the 2017 opioid guideline in the singular, and the MTUS's 'Clinical Topics' (its ACOEM chapters)
    ("MTUS Opioids Treatment Guideline (2017)", [("MTUS-OPIOIDS", (), ())]),
    ("MTUS Clinical Topics, Section(s): Cold packs", [("MTUS-ACOEM", (), ("Cold packs",))]),
    # a page range before a label in brackets is read whole
    ("MTUS Chronic Pain Medical Treatment Guidelines, pp. 22, 67-68 (NSAIDs).", [("MTUS-CPMTG", (22, 67, 68),
                                                                                 ("NSAIDs",))]),
    # a further 'Non-MTUS Citation' is a source of its own
    ("Non-MTUS Citation Official Disability Guidelines (ODG), Pain Chapter, Insomnia Treatment; and Non-MTUS "
     "Citation Ambien Prescribing Information", [("ODG", (), ("Pain chapter", "Insomnia treatment")),
                                                 ("OTHER", (), ())]),
    # a Non-MTUS source after a Section(s) list is a source of its own, not one more section
    ("MTUS Knee Complaints 2004, Section(s): Summary, and Non-MTUS Official Disability Guidelines (ODG), Knee & Leg, "
     "Online Edition, MRIs", [("MTUS-ACOEM", (), ("Summary",)), ("ODG", (), ("Knee & leg", "MRIs"))]),
    ("MTUS Chronic Pain Medical Treatment 2016, Section(s): Physical Medicine; Non-MTUS Official Disability "
     "Guidelines (ODG), Low Back Chapter",
     [("MTUS-CPMTG", (), ("Physical medicine",)), ("ODG", (), ("Low back chapter",))]),
    # a part of the MTUS named by its own title, without 'MTUS', and 'California MTUS'
    ("Chronic Pain Medical Treatment Guidelines, Section 9792.20, page 1 of 127; Opioids, page 78",
     [("MTUS-CPMTG", (1, 78), ("Section 9792.20", "Opioids"))]),
    ("the Chronic Pain Medical Treatment Guidelines (2009), Opioids, pages 76-80, and ODG, Pain chapter",
     [("MTUS-CPMTG", (76, 77, 78, 79, 80), ("Opioids",)), ("ODG", (), ("Pain chapter",))]),
    ("California MTUS 2016 Chronic Pain Guidelines, page 113, TENS unit", [("MTUS-CPMTG", (113,), ("TENS unit",))]),
    ("ACOEM Practice Guidelines, Chapter 12, page 303",
     [("ACOEM", (303,), ("Chapter 12",))]),
    ("Non-MTUS Chronic Pain Medical Treatment Guidelines page 29",
     [("OTHER", (29,), ())]),
    # an edition's month and year are no section
    ("CA MTUS Chronic Pain Medical Treatment Guidelines (May 2009), Muscle relaxants (for pain), pg. 63-66",
     [("MTUS-CPMTG", (63, 64, 65, 66), ("Muscle relaxants (for pain)",))]),
    # a range after a topic's comma, without 'page'; never a date's or a regulation's numbers
    ("MTUS: CHRONIC PAIN MEDICAL TREATMENT GUIDELINES, ANTI-EPILEPSY DRUGS (AEDS), 16-18",
     [("MTUS-CPMTG", (16, 17, 18), ("ANTI-EPILEPSY DRUGS (AEDS)",))]),
    ("MTUS: ACOEM, CHAPTER 12, LOW BACK COMPLAINTS, 303-305", [("MTUS-ACOEM", (303, 304, 305), ())]),
    ("ODG, Knee, 7-15-2014", [("ODG", (), ("Knee",))]),
    ("MTUS Chronic Pain Medical Treatment Guidelines, Opioids (page 78)", [("MTUS-CPMTG", (78,), ("Opioids",))]),
    ("MTUS Chronic Pain Medical Treatment Guidelines, page 78 through 80, page #113",
     [("MTUS-CPMTG", (78, 79, 80, 113), ())]),
    ("MTUS Chronic Pain Medical Treatment Guidelines, 8 C.C.R. 9792.20 - 9792.26, Opioids",
     [("MTUS-CPMTG", (), ("Opioids",))]),
    # the source's own name opens its citation; its edition, date and publisher are no sections
    ("Non-MTUS Citation American College of Occupational and Environmental Medicine (ACOEM), 2nd Edition, (2004) "
     "Chapter 7, page 127", [("ACOEM", (127,), ("Chapter 7",))]),
    ("Non-MTUS Citation Official Disability Guidelines, Treatment Index, 11th Edition (web), 2013, Pain Chapter, "
     "Urine drug testing", [("ODG", (), ("Pain chapter", "Urine drug testing"))]),
    ("Non-MTUS Citation University of Michigan Health System. Gastroesophageal reflux disease (GERD). Ann Arbor (MI): "
     "University of Michigan Health System; 2007 Jan. 10.",
     [("OTHER", (), ("Gastroesophageal reflux disease (GERD)",))]),
    ("Non-MTUS Citation Medscape, Sleep Disorders", [("OTHER", (), ("Sleep disorders",))]),
    # ODG named again before a topic (CM17-0019907), and 'X-Ray' (CM16-0232543)
    ("Non-MTUS Citation Official Disability Guidelines (ODG) Low Back, Physical Therapy. Official Disability "
     "Guidelines (ODG) Physical Therapy Guidelines.", [("ODG", (), ("Low back", "Physical therapy",
                                                                   "Physical therapy guidelines"))]),
    ("Non-MTUS Citation Official Disability Guidelines (ODG) Hips & Pelvis Chapter, X-Ray.",
     [("ODG", (), ("Hips & pelvis chapter", "X-Ray"))]),
    # a chapter's update date between it and the topic, without a comma (CM17-0021791), in any written form
    *[(f"Non-MTUS Citation Official Disability Guidelines (ODG) Chapter: Low Back-Lumbar & Thoracic (Acute & Chronic) "
       f"{date} MRI (magnetic resonance imaging).",
       [("ODG", (), ("Low Back-Lumbar & thoracic (Acute & Chronic)", "MRI (magnetic resonance imaging)"))])
      for date in ("12/20/2016", "December 20, 2016", "Dec. 20, 2016")],
    ("Non-MTUS Citation ODG, Pain Chapter, updated December 20, 2016, Opioids",
     [("ODG", (), ("Pain chapter", "Opioids"))]),
    # the regulation that adopts the guideline, then its title: one citation
    ("MTUS 2009: 9792.24.2. Chronic Pain Medical Treatment Guidelines, Opioids Page(s): 78",
     [("MTUS-CPMTG", (78,), ("Opioids",))]),
    # a regulation after the pages is none of them
    ("MTUS Chronic Pain Medical Treatment Guidelines, page(s): 111-113, 9792.26",
     [("MTUS-CPMTG", (111, 112, 113), ())]),
])
def test_guideline_line_wordings(line, citations):
    reading = clean(f"Decision based on {line}")
    found = parse_guideline_line(reading, 0, len(reading.text), "reviewer").citations
    assert [(c.guideline, c.pages, c.sections) for c in found] == citations


@pytest.mark.parametrize("line, citations", [
    ("The Expert Reviewer based his/her decision on the MTUS ACOEM Chapter 12 page 303.", [("MTUS-ACOEM", (303,), ())]),
    ("The Claims Administrator based its decision on the MTUS Chronic Pain Medical Treatment Guidelines, pages 76-78.",
     [("MTUS-CPMTG", (76, 77, 78), ())]),
    ("The Expert Reviewer found that the MTUS was not applicable and based his/her decision on the Non-MTUS Official "
     "Disability Guidelines (ODG), Knee & Leg Chapter, Continuous passive motion (CPM).",
     [("ODG", (), ("Knee & leg chapter", "Continuous passive motion (CPM)"))]),
    ("The Expert Reviewer found the MTUS did not apply. The Expert Reviewer based his/her decision on the Non-MTUS "
     "Official Disability Guidelines (ODG) Pain, TENS", [("ODG", (), ("Pain", "TENS"))]),
    # the 2016 letters' own sentence before 'Decision based on' names no source
    ("The Expert Reviewer based their decision on recommendation(s) outside of the MTUS Guidelines. Decision based on "
     "Non-MTUS Citation Official Disability Guidelines (ODG) Neck & upper back, Cervical pillow.",
     [("ODG", (), ("Neck & upper back", "Cervical pillow"))]),
    ("The Expert Reviewer based his/her decision on the California MTUS Chronic Pain Medical Treatment Guidelines, "
     "page 29.", [("MTUS-CPMTG", (29,), ())]),
])
def test_guideline_line_as_a_sentence(line, citations):
    """The party's decision named in a sentence instead of 'Decision based on'."""
    reading = clean(line)
    found = parse_guideline_line(reading, 0, len(reading.text), "reviewer").citations
    assert [(c.guideline, c.pages, c.sections) for c in found] == citations


def test_a_guideline_line_that_lost_its_words_cites_nothing():
    """'MAXIMUS guideline' with its colon and its words lost by the PDF: no citation, no crash (a fuzzed
    letter raised 'empty span')."""
    text = (LETTERS / "CM17-0005412.txt").read_text().replace(
        "MAXIMUS guideline: Decision based on MTUS Chronic Pain Medical Treatment 2016, \n"
        "Section(s): Muscle relaxants (for pain).   \n", "MAXIMUS guideline\n")
    decision = parse_text(text, "x", "x").decisions[0]
    assert [(c.party, c.guideline) for c in decision.citations] == [("administrator", "ODG")]


@pytest.mark.parametrize("sentence, day", [
    ("The patient is a 60 year old obese woman. DOI: 3/4/2010.", dt.date(2010, 3, 4)),
    ("Patient is a 45 yo M with DOI 5/5/2012.", dt.date(2012, 5, 5)),
    ("The injured worker is a 51 year-old female who was injured on 2/1/2014.", dt.date(2014, 2, 1)),
    ("The IW is a 33 year old male. He was hurt on 06/08/2015 while lifting.", dt.date(2015, 6, 8)),
    # the event that injured the worker
    ("This 45 year old male sustained injuries to his back in a fall from a ladder at work on 3/3/2010.",
     dt.date(2010, 3, 3)),
    ("The patient was involved in a work-related motor vehicle accident on 3/3/2010.", dt.date(2010, 3, 3)),
    ("The patient is a 45 year old male who tripped and fell at work on 3/3/2010.", dt.date(2010, 3, 3)),
    ("The patient is a 45 year-old female with wrist pain from cumulative trauma through 3/3/2010.",
     dt.date(2010, 3, 3)),
])
def test_injury_date_wordings(sentence, day):
    reading = clean(sentence)
    assert parse_summary(reading, 0, len(reading.text)).injury_date.value == day


@pytest.mark.parametrize("sentence, labels", [
    ("Diagnoses include: 1. Lumbar radiculopathy 2. Cervical strain 3. Insomnia.",
     ["lumbar radiculopathy", "cervical strain", "insomnia"]),
    ("Diagnoses:\n1. Lumbar radiculopathy\n2. Cervical strain\n3. Insomnia\nTreatment has included physical therapy.",
     ["lumbar radiculopathy", "cervical strain", "insomnia"]),
    ("Diagnoses included 1) lumbar radiculopathy, 2) cervical strain, and 3) status post L4-5 fusion.",
     ["lumbar radiculopathy", "cervical strain", "status post l4-5 fusion"]),
    ("Diagnoses include: 1. Lumbar disc displacement at L4-5. 2. Cervical strain. 3. Insomnia. He was seen today.",
     ["lumbar disc displacement at l4-5", "cervical strain", "insomnia"]),
    ("The diagnoses have included lumbar radiculopathy and cervical strain.",
     ["lumbar radiculopathy", "cervical strain"]),
    ("Current diagnoses: lumbar radiculopathy, cervical strain.", ["lumbar radiculopathy", "cervical strain"]),
    ("Diagnoses consist of lumbar radiculopathy and cervical strain.", ["lumbar radiculopathy", "cervical strain"]),
    ("The diagnoses were noted to be lumbar radiculopathy and cervical strain.",
     ["lumbar radiculopathy", "cervical strain"]),
    ("Diagnosis: Lumbar radiculopathy.", ["lumbar radiculopathy"]),
    ("The diagnostic impression is lumbar radiculopathy and cervical strain.",
     ["lumbar radiculopathy", "cervical strain"]),
    ("Diagnostic impressions: lumbar radiculopathy, cervical strain.", ["lumbar radiculopathy", "cervical strain"]),
    ("The injured worker has a diagnosis of lumbar radiculopathy.", ["lumbar radiculopathy"]),
    ("The applicant was given diagnoses of lumbar radiculopathy and myofascial pain syndrome.",
     ["lumbar radiculopathy", "myofascial pain syndrome"]),
    ("The diagnoses have been noted as lumbar radiculopathy and cervical strain.",
     ["lumbar radiculopathy", "cervical strain"]),
    ("The diagnoses at that time were lumbar radiculopathy and cervical strain.",
     ["lumbar radiculopathy", "cervical strain"]),
    ("An MRI was ordered to confirm the diagnosis of lumbar radiculopathy.", []),  # a diagnosis to confirm is none
    # an aside before the list, and who or when between 'diagnoses' and its verb
    ("The current diagnoses include (but are not limited to) cervicalgia and lumbago.", ["cervicalgia", "lumbago"]),
    ("The injured worker was diagnosed with (in part) lumbar radiculopathy.", ["lumbar radiculopathy"]),
    ("The provider diagnosed her with a left knee meniscal tear.", ["left knee meniscal tear"]),
    ("Diagnoses per the primary treating physician include lumbar facet arthropathy and sacroiliac joint "
     "dysfunction.", ["lumbar facet arthropathy", "sacroiliac joint dysfunction"]),
    ("Diagnoses as of 11/2/2016 include lumbar radiculopathy and lumbar disc protrusion.",
     ["lumbar radiculopathy", "lumbar disc protrusion"]),
    ("Diagnoses listed are left knee medial meniscus tear and left knee chondromalacia.",
     ["left knee medial meniscus tear", "left knee chondromalacia"]),
    # a last word that is a condition of its own is a diagnosis of its own; a body part is not
    ("Diagnoses include lumbar radiculopathy and depression.", ["lumbar radiculopathy", "depression"]),
    ("Diagnoses include right shoulder impingement and GERD.", ["right shoulder impingement", "gerd"]),
    ("Diagnoses include pain in the left arm and wrist.", ["pain in the left arm and wrist"]),
    ("Diagnoses include thoracic sprain and strain.", ["thoracic sprain and strain"]),
    # an ICD-10 description after 'and' is a diagnosis of its own (CM17-0003619); a place after it is not
    ("The current diagnoses are documented as pain in the left upper arm and sprain of the other part of the left "
     "hand and wrist.", ["pain in the left upper arm", "sprain of the other part of the left hand and wrist"]),
    ("Diagnoses include pain in the left arm and wrist and unspecified sprain of the left knee.",
     ["pain in the left arm and wrist", "unspecified sprain of the left knee"]),
    # each 'rule out' starts a diagnosis (CM16-0248034, CM17-0006838)
    ("The injured worker is being treated for numbness and weakness bilateral upper extremities rule out carpal "
     "tunnel syndrome rule out cervical radiculopathy.", ["numbness and weakness bilateral upper extremities",
                                                         "rule out carpal tunnel syndrome",
                                                         "rule out cervical radiculopathy"]),
    ("The injured worker is being treated for left foot pain and rule out complex regional pain syndrome.",
     ["left foot pain", "rule out complex regional pain syndrome"]),
    ("Diagnoses include cervical sprain and bilateral wrist strain and sprain with underlying carpal tunnel "
     "syndrome.", ["cervical sprain", "bilateral wrist strain and sprain with underlying carpal tunnel syndrome"]),
    # a list that wraps with its number at a line's end is not one a line
    ("Diagnoses include:\n1. strain of muscle, fascia and tendon of lower back, initial encounter 2.\nmyofascial pain "
     "syndrome 3. chronic pain syndrome. Treatment to date has included PT.",
     ["strain of muscle, fascia and tendon of lower back, initial encounter", "myofascial pain syndrome",
      "chronic pain syndrome"]),
    # lists without numbers: one a line after the label, bullets, letters, short sentences
    ("Diagnoses:\nLumbar radiculopathy\nCervical strain with radiation to\nthe left arm\nTreatment has included PT.",
     ["lumbar radiculopathy", "cervical strain with radiation to the left arm"]),
    ("The diagnoses are:\n- Lumbar radiculopathy\n- Cervical strain\nShe has had therapy.",
     ["lumbar radiculopathy", "cervical strain"]),
    ("Diagnoses: • Lumbar radiculopathy • Cervical strain • Depression. She has had therapy.",
     ["lumbar radiculopathy", "cervical strain", "depression"]),
    ("Diagnoses: a. Lumbar radiculopathy b. Cervical strain c. Depression. She has had therapy.",
     ["lumbar radiculopathy", "cervical strain", "depression"]),
    ("Diagnoses: Lumbar radiculopathy. Cervical strain. Depression. Treatment has included physical therapy.",
     ["lumbar radiculopathy", "cervical strain", "depression"]),
    ("Diagnoses:\nRadiculopathy, lumbar region\nStrain of muscle, fascia and tendon of lower back, initial encounter\n"
     "Treatment has included PT.", ["radiculopathy, lumbar region",
                                    "strain of muscle, fascia and tendon of lower back, initial encounter"]),
    ("Diagnoses: Lumbar strain. Follow up in 4 weeks.", ["lumbar strain"]),  # names no region or condition
    ("Diagnoses:\nLumbar radiculopathy, cervical strain and\ndepression. Treatment has included PT.",  # a sentence
     ["lumbar radiculopathy", "cervical strain", "depression"]),
    # a numbered list ends with its sentence, or at a line without the next number
    ("Diagnoses include: 1. Lumbar radiculopathy 2. Cervical strain. He was seen for 3. visits and more.",
     ["lumbar radiculopathy", "cervical strain"]),
    ("Diagnoses:\n1. Lumbar radiculopathy\n2. Cervical strain\nTreatment included therapy. 3. Other.",
     ["lumbar radiculopathy", "cervical strain"]),
    ("Diagnoses include: 1. Lumbar radiculopathy 2. Chronic pain\nsyndrome. Then he left.",
     ["lumbar radiculopathy", "chronic pain syndrome"]),
    # "1." at a line's start with "2." on the same line: a list in running text, not one a line
    ("Diagnoses include:\n1. thoracic sprain and strain 2. sacroiliitis. Treatment to date has included\n"
     "medications.", ["thoracic sprain and strain", "sacroiliitis"]),
    # one item, then prose on its line: the item ends with its sentence
    ("Diagnoses include:\n1. anxiety. Treatment to date has included medications and\nactivity modification.",
     ["anxiety"]),
    # an item of a one-a-line list wrapped: its next line goes on in lower case
    ("Diagnoses:\n1. Lumbar strain with radiculopathy to\nthe left leg\n2. Cervical radiculopathy with\n"
     "radiating pain\nThe patient was seen on 1/2/2016.",
     ["lumbar strain with radiculopathy to the left leg", "cervical radiculopathy with radiating pain"]),
    ("Assessment: 1. Lumbar radiculopathy. 2. Cervical strain. 3. Insomnia. The patient was seen.",
     ["lumbar radiculopathy", "cervical strain", "insomnia"]),
    ("The records indicate a diagnosis of post-traumatic stress disorder.", ["post-traumatic stress disorder"]),
    ("The applicant is a represented 60-year-old former bus driver who has filed a claim for chronic neck pain, low "
     "back pain, and bilateral knee pain reportedly associated with an industrial injury of March 5, 2004.",
     ["chronic neck pain", "low back pain", "bilateral knee pain"]),
    ("The patient is a 45 year old male who filed a claim for an injury to the left shoulder on 1/1/2010.", []),
    ("It is documented that the patient had a functional assessment. Surgery was to confirm the diagnosis of "
     "carpal tunnel syndrome.", []),  # neither an assessment without its colon nor a diagnosis to confirm

    ("She is diagnosed with (1) Left knee osteoarthritis (2) Lumbar spondylosis (3) Depression. UR denied it.",
     ["left knee osteoarthritis", "lumbar spondylosis", "depression"]),
    ("Patient is a 57 y/o M with DOI 4/4/2004. Dx: L4-5 disc herniation, s/p laminectomy. The request was denied.",
     ["l4-5 disc herniation", "s/p laminectomy"]),
    ("Diagnoses were noted to include bilateral carpal tunnel syndrome.", ["bilateral carpal tunnel syndrome"]),
    ("The diagnoses on this date were lumbago and sciatica.", ["lumbago", "sciatica"]),
    ("She has been treated for right shoulder impingement syndrome, cervical strain and depression.",
     ["right shoulder impingement syndrome", "cervical strain", "depression"]),
    ("He has been treated for 3 years with medications.", []),  # a duration, not a diagnosis
    ("He was diagnosed with a left rotator cuff tear and underwent surgery.", ["left rotator cuff tear"]),
    # ICD-10's descriptions keep what follows their comma
    ("Diagnoses include radiculopathy, lumbar region, sprain of ligaments of lumbar spine, initial encounter and "
     "pain in right shoulder.",
     ["radiculopathy, lumbar region", "sprain of ligaments of lumbar spine, initial encounter",
      "pain in right shoulder"]),
    ("Diagnoses include strain of muscle, fascia and tendon of lower back, initial encounter, cervicalgia, other "
     "intervertebral disc degeneration, lumbar region and myalgia.",
     ["strain of muscle, fascia and tendon of lower back, initial encounter", "cervicalgia",
      "other intervertebral disc degeneration, lumbar region", "myalgia"]),
    ("The diagnoses included cervicalgia, radiculopathy, cervical region, and carpal tunnel syndrome, bilateral upper "
     "limbs.", ["cervicalgia", "radiculopathy, cervical region", "carpal tunnel syndrome, bilateral upper limbs"]),
    # codes in brackets after each diagnosis: the list goes on past them, and a label is the words without one
    ("Diagnoses include Cervicalgia (M54.2), Low back pain (M54.5), and Other intervertebral disc degeneration, "
     "lumbar region (M51.36). A Request for Authorization was received.",
     ["cervicalgia", "low back pain", "other intervertebral disc degeneration, lumbar region"]),
    ("The diagnoses were lumbar disc displacement (ICD-10: M51.26) and lumbar radiculopathy (722.10).",
     ["lumbar disc displacement", "lumbar radiculopathy"]),
    ("She was diagnosed with carpal tunnel syndrome (bilateral) and trigger finger.",
     ["carpal tunnel syndrome (bilateral)", "trigger finger"]),
    ("(The diagnoses include lumbar strain, sciatica) She was seen.", ["lumbar strain", "sciatica"]),
    # a progress note's impression
    ("The patient was seen on 12/01/2016. Impression: Lumbar strain; lumbar facet syndrome. UR denied it.",
     ["lumbar strain", "lumbar facet syndrome"]),
    # 'as follows', an aside between commas, and when the diagnosis was made after it
    ("The patient's diagnoses are as follows: 1) lumbar strain, 2) cervical strain. She was seen.",
     ["lumbar strain", "cervical strain"]),
    ("Current diagnoses include, but are not limited to, lumbar strain and cervical strain.",
     ["lumbar strain", "cervical strain"]),
    ("She was diagnosed with lumbar strain and cervical strain in 2014.", ["lumbar strain", "cervical strain"]),
])
def test_diagnosis_list_wordings(sentence, labels):
    reading = clean(sentence)
    assert [d.label for d in parse_summary(reading, 0, len(reading.text)).diagnoses] == labels


def test_partial_authorization_whose_outcome_lost_its_colon_on_a_line_of_its_own():
    d = _with_item("Etodolac 5mg #180 was the original request. Etodolac 5mg #90 was authorized by the Claims\n"
                   "Administrator. The remaining IMR eligible portion of the original request, Etodolac 5mg #90 is\n"
                   " Upheld").decisions[0]
    assert (d.item.value, d.original_request.value, d.outcome.value) == \
        ("Etodolac 5mg #90", "Etodolac 5mg #180", "Upheld")


@pytest.mark.parametrize("sentence, day", [
    ("In a Utilization Review Report dated November 24, 2014, the claims administrator denied a request.",
     dt.date(2014, 11, 24)),
    ("The request was non-certified by utilization review on 12-5-14.", dt.date(2014, 12, 5)),
    ("The claims administrator denied the request in a decision dated 4/4/2015.", dt.date(2015, 4, 4)),
    ("A prior peer review dated 5/5/2015 non-certified the request.", dt.date(2015, 5, 5)),
    ("This request was previously reviewed and non-certified on 3/3/2015.", dt.date(2015, 3, 3)),
])
def test_utilization_review_date_wordings(sentence, day):
    reading = clean(sentence)
    assert parse_summary(reading, 0, len(reading.text)).utilization_review.date.value == day


@pytest.mark.parametrize("sentence, day, action", [
    # the claims administrator's own UR decision
    ("The claims administrator non-certified the request on 1/2/14.", dt.date(2014, 1, 2), "non-certified"),
    ("The claims administrator denied a request for Norco 10/325mg #90 on November 3, 2014.", dt.date(2014, 11, 3),
     "denied"),
    ("On 10/10/2015, the claims administrator partially approved a request for Norco.", dt.date(2015, 10, 10),
     "modified"),
    ("In a utilization review report of 11/11/2015, the claims administrator failed to approve a request.",
     dt.date(2015, 11, 11), "non-certified"),
    ("On 3/3/2014, the claims administrator's utilization reviewer denied the request.", dt.date(2014, 3, 3),
     "denied"),
    ("The UR reviewer on 3/3/2014 did not certify the request.", dt.date(2014, 3, 3), "non-certified"),
    # the action before the mention, in its sentence
    ("A request for physical therapy that was noncertified by Utilization Review on December 20, 2016.",
     dt.date(2016, 12, 20), "non-certified"),
    ("The request was modified by utilization review on 07/07/2014.", dt.date(2014, 7, 7), "modified"),
    ("The request was partially certified on 12/05/2016 by utilization review.", dt.date(2016, 12, 5), "modified"),
    ("Norco was certified before. Utilization review on 2/2/2015 denied the new request.", dt.date(2015, 2, 2),
     "denied"),
    # the date first, the reviewer after the action (CM17-0006838)
    ("On 01-03-2017 the request for three phase bone scan to the left foot was non-certified by utilization review.",
     dt.date(2017, 1, 3), "non-certified"),
    ("On 12/12/2014, the request for Norco was denied by the utilization reviewer.", dt.date(2014, 12, 12), "denied"),
    # the action as a noun, or negated
    ("A prior utilization review determination dated 12/12/2014 resulted in denial of the request.",
     dt.date(2014, 12, 12), "denied"),
    ("The request was not approved by utilization review on 12/12/2014.", dt.date(2014, 12, 12), "non-certified"),
    ("The UR non-certification of 3/4/2015 is appealed.", dt.date(2015, 3, 4), "non-certified"),
    # the UR's letter named for what it decided
    ("The non-certification letter dated 5/5/14 cited MTUS.", dt.date(2014, 5, 5), "non-certified"),
    ("The request was non-certified in a determination letter dated 5/5/14.", dt.date(2014, 5, 5), "non-certified"),
    ("This is a review of the denial dated 7/7/2014 for Norco.", dt.date(2014, 7, 7), "denied"),
    ("The requested Norco was denied in a decision dated 8/8/14.", dt.date(2014, 8, 8), "denied"),
    # an earlier UR that certified something else is not the one disputed
    ("Utilization review on 1/1/2014 certified 6 sessions of physical therapy. The patient improved. Utilization "
     "review on 3/3/2014 non-certified Norco.", dt.date(2014, 3, 3), "non-certified"),
    ("A prior utilization review dated 6/1/2016 approved acupuncture. On 12/2/2016, utilization review modified the "
     "request for Norco.", dt.date(2016, 12, 2), "modified"),
    ("Utilization review on 3/3/2014 non-certified Norco. A later utilization review on 4/4/2014 certified Motrin.",
     dt.date(2014, 3, 3), "non-certified"),
    # the action in the next sentence (CM16-0248471, CM17-0013625)
    ("The request was previously reviewed on 12/29/2016. The request for Celebrex was previously denied due to lack "
     "of documentation.", dt.date(2016, 12, 29), "denied"),
])
def test_utilization_review_wordings(sentence, day, action):
    reading = clean(sentence)
    ur = parse_summary(reading, 0, len(reading.text)).utilization_review
    assert (ur.date.value, ur.action.value) == (day, action)


@pytest.mark.parametrize("sentence, specialties, states", [
    ("The expert reviewer holds a license to practice in California and is Board Certified in Chiropractic.",
     ["Chiropractic"], ["CA"]),
    ("The expert reviewer is licensed to practice medicine in Ohio and Texas and is Board Certified in Anesthesiology.",
     ["Anesthesiology"], ["OH", "TX"]),
    ("The expert reviewer is Board Certified in Internal Medicine, is licensed to practice in New York, Ohio and "
     "California.", ["Internal Medicine"], ["NY", "OH", "CA"]),
    # both fields on one line
    ("State(s) of Licensure: Pennsylvania, Ohio Certification(s)/Specialty: Family Practice, Internal Medicine",
     ["Family Practice", "Internal Medicine"], ["PA", "OH"]),
    ("Certification(s)/Specialty: Family Practice State(s) of Licensure: California", ["Family Practice"], ["CA"]),
    # a reviewer without a board names the profession
    ("The expert reviewer is Licensed in Acupuncture and is licensed to practice in California.", ["Acupuncture"],
     ["CA"]),
    ("The expert reviewer is a Licensed Psychologist and is licensed to practice in California.", ["Psychologist"],
     ["CA"]),
    ("The expert reviewer is a Physical Therapist and is licensed to practice in Oregon.", ["Physical Therapist"],
     ["OR"]),
    ("The Physician Reviewer is Licensed in Chiropractic and is licensed to practice in California.",
     ["Chiropractic"], ["CA"]),  # the earlier letters' word for the reviewer
    # states without "to practice"
    ("The expert reviewer is licensed in California and is Board Certified in Orthopedic Surgery.",
     ["Orthopedic Surgery"], ["CA"]),
    ("The expert reviewer is Board Certified in Orthopedic Surgery and is licensed in the State of California.",
     ["Orthopedic Surgery"], ["CA"]),
    ("The expert reviewer is Board Certified in Orthopedic Surgery and holds a license in California and Nevada.",
     ["Orthopedic Surgery"], ["CA", "NV"]),
    ("The expert reviewer is Board Certified in Family Practice and is licensed to practice in the states of Ohio "
     "and Texas.", ["Family Practice"], ["OH", "TX"]),
    # 'and' between two known specialties joins two; inside one name it does not
    ("The expert reviewer is Board Certified in Anesthesiology and Pain Medicine and is licensed to practice in Utah.",
     ["Anesthesiology", "Pain Medicine"], ["UT"]),
    ("The expert reviewer is Board Certified in Physical Medicine and Rehabilitation and Pain Medicine and is "
     "licensed to practice in New York.", ["Physical Medicine & Rehabilitation", "Pain Medicine"], ["NY"]),
    ("The expert reviewer is Board Certified in Obstetrics and Gynecology and is licensed to practice in Ohio.",
     ["Obstetrics & Gynecology"], ["OH"]),
    ("The expert reviewer is Board Certified in Psychiatry and Neurology and is licensed to practice in Ohio.",
     ["Psychiatry", "Neurology"], ["OH"]),  # two certificates of one board (ABPN)
    ("The expert reviewer is Board Certified in Foot and Ankle Surgery and is licensed to practice in Ohio.",
     ["Foot & Ankle Surgery"], ["OH"]),
    ("The expert reviewer is Board Certified in Spine and Joint Care and is licensed to practice in Ohio.",
     ["Spine & Joint Care"], ["OH"]),  # not known names: kept as written
    # a slash or brackets join two known specialties; one name stays whole
    ("The expert reviewer is Board Certified in Anesthesiology/Pain Management and is licensed to practice in "
     "California.", ["Anesthesiology", "Pain Management"], ["CA"]),
    ("Certification(s)/Specialty: Orthopaedic Surgery (Hand Surgery)\nState(s) of Licensure: Texas",
     ["Orthopaedic Surgery", "Hand Surgery"], ["TX"]),
    ("Certification(s)/Specialty: Spine Care (Adult)\nState(s) of Licensure: Texas", ["Spine Care (Adult)"], ["TX"]),
    ("Certification(s)/Specialty: Internal Medicine and Occupational Medicine", ["Internal Medicine",
                                                                               "Occupational Medicine"], []),
    # a field's value wraps onto short lines, never onto the prose after it
    ("State(s) of Licensure: Texas\nCertification(s)/Specialty: Preventive Medicine, Occupational\nMedicine\n"
     "He/she has been in active clinical practice for more than five years and is currently working at",
     ["Preventive Medicine", "Occupational Medicine"], ["TX"]),
    ("Certification(s)/Specialty: Psychologist\nState(s) of Licensure: California\nHe/she is familiar with it.",
     ["Psychologist"], ["CA"]),
    # subspecialties, a board not yet passed, a profession without a field
    ("The expert reviewer is Board Certified in Anesthesiology, has subspecialties in Pain Medicine and Critical Care "
     "and is licensed to practice in Ohio.", ["Anesthesiology", "Pain Medicine", "Critical Care"], ["OH"]),
    ("The expert reviewer is Board Eligible in Physical Medicine and Rehabilitation and is licensed to practice in "
     "California.", ["Physical Medicine & Rehabilitation"], ["CA"]),
    ("The expert reviewer is a Board Certified Chiropractor and is licensed to practice in California.",
     ["Chiropractor"], ["CA"]),
    ("The expert reviewer holds a license in Chiropractic and Acupuncture and is licensed to practice in California.",
     ["Chiropractic", "Acupuncture"], ["CA"]),
    ("The expert reviewer is Licensed in Chiropractic, has a subspecialty in Acupuncture and is licensed to practice "
     "in California.", ["Chiropractic", "Acupuncture"], ["CA"]),
    ("The expert reviewer is Board Certified in Neurology, has a subspecialty in Pain Management and Headache "
     "Medicine and is licensed to practice in California.", ["Neurology", "Pain Management", "Headache Medicine"],
     ["CA"]),

    # the District of Columbia however written, and a state named with its word 'State'
    ("The expert reviewer is Board Certified in Neurology and is licensed to practice in Washington, DC.",
     ["Neurology"], ["DC"]),
    ("The expert reviewer is Board Certified in Neurology and is licensed to practice in Washington, D.C. and "
     "Maryland.", ["Neurology"], ["DC", "MD"]),
    ("State(s) of Licensure: Washington D.C., Virginia\nCertification(s)/Specialty: Neurology", ["Neurology"],
     ["DC", "VA"]),
    ("State(s) of Licensure: Washington, Oregon\nCertification(s)/Specialty: Neurology", ["Neurology"], ["WA", "OR"]),
    ("The expert reviewer is Board Certified in Neurology and is licensed to practice in New York State.",
     ["Neurology"], ["NY"]),
])
def test_reviewer_wordings(sentence, specialties, states):
    reading = clean(sentence)
    reviewer = parse_reviewer(reading, 0, len(reading.text))
    assert ([s.name.value for s in reviewer.specialties], [s.value for s in reviewer.states]) == (specialties, states)


@pytest.mark.parametrize("written, as_written", [
    ("MAXIMUS guideline:", "MAXIMUS guidelines:"), ("MAXIMUS guideline:", "MAXIMUS guideline(s):"),
    ("Claims Administrator guideline:", "Claims Administrator Guidelines:"),
])
def test_block_labels_in_the_plural(written, as_written):
    """A label's last word in the plural is the same label: the reviewer's citation stays the reviewer's."""
    text = (LETTERS / "CM17-0005412.txt").read_text().replace(written, as_written)
    cites = parse_text(text, "x", "x").decisions[0].citations
    assert [(c.party, c.guideline) for c in cites] == [("administrator", "ODG"), ("reviewer", "MTUS-CPMTG")]


@pytest.mark.parametrize("heading", ["IMR ISSUE, DECISION AND RATIONALE", "IMR ISSUES, DECISIONS, AND RATIONALES",
                                     "IMR Issues, Decisions & Rationales"])
def test_issues_heading_variants(heading):
    text = (LETTERS / "CM17-0005412.txt").read_text().replace("IMR ISSUES, DECISIONS AND RATIONALES", heading)
    items = [d.item.value for d in parse_text(text, "x", "x").decisions]
    assert items == ["Lorzone 750mg one by mouth three times a day #45"]


@pytest.mark.parametrize("item, quantity, refills", [
    ("Norco 10/325mg #120 with one refill", 120, 1), ("Norco 10/325mg #120 x2 refills", 120, 2),
    ("Norco 10/325mg #120 RF x 3", 120, 3), ("Norco 10/325mg #120 refills x1", 120, 1),
    ("Norco 10/325mg #120 RF: 1", 120, 1),
    # a count of tens at the end of a larger one in words is none ("one hundred twenty" is not twenty)
    ("Norco 10/325mg one hundred twenty tablets", None, None),
    ("Norco 10/325mg one hundred and twenty tablets", None, None),
    ("Norco 10/325mg # 120 refills: 1", 120, 1), ("Norco 10/325mg #120, no refills", 120, 0),
    ("Prilosec 20mg #60, 2 RF", 60, 2), ("Prilosec 20mg 1 daily, sixty count with two refills", 60, 2),
])
def test_refill_wordings(item, quantity, refills):
    reading = clean(item)
    details = item_details(reading, 0, len(reading.text))
    assert tuple(fact.value if fact else None for fact in (details.quantity, details.refills)) == (quantity, refills)


@pytest.mark.parametrize("item, strength, quantity", [
    ("Norco 10-325mg #60", 10, 60), ("Norco 10/325mg #60", 10, 60), ("Norco 10-325 #60", 10, 60),
    # a product's number is no count
    ("Tylenol #3 #60", None, 60), ("Tylenol with Codeine #3, #60", None, 60), ("Tylenol #3", None, None),
    ("Vitamin D 50,000 IU #12", None, 12),  # a thousands separator is no end of a bare strength
    ("Gabapentin 600mg 180 tablets", 600, 180), ("Methadone 5 mg, 1-2 tabs q8h", 5, None),  # ten or more: a count
    # a drug's count after 'x', but not a duration
    ("Xanax 0.25mg x 60", 0.25, 60), ("Tramadol 50mg x60", 50, 60), ("Norco 10/325mg x 30 days", 10, None),
    ("Physical therapy x 12", None, None),  # a service's sessions are no quantity
    # counts written out
    ("Mobic 15mg no.30", 15, 30), ("Motrin 800 mg, quantity sixty (60)", 800, 60), ("Tylenol No. 3 #60", None, 60),
    ("Norco 10/325mg 1 tab every 6 hours, 120 count", 10, 120), ("Bilateral L4-5 RF ablation", None, None),
    ("Tizanidine 4mg, sixty tablets", 4, 60), ("Norco 10/325mg, sixty (60) tablets", 10, 60),
    ("Norco 10/325mg, 60 (sixty) tablets", 10, 60), ("Physical therapy, twenty sessions", None, None),
    # a strength with a leading point; a count of tens in words after 'quantity', but not a larger one's start
    ("Klonopin .5mg #30", 0.5, 30), ("Cyclobenzaprine 7.5mg quantity sixty", 7.5, 60),
    ("Cyclobenzaprine 7.5mg quantity sixty-two", 7.5, None),
])
def test_strength_and_quantity_wordings(item, strength, quantity):
    reading = clean(item)
    details = item_details(reading, 0, len(reading.text))
    assert ((details.strength_mg.value if details.strength_mg else None),
            (details.quantity.value if details.quantity else None)) == (strength, quantity)


@pytest.mark.parametrize("sentence, necessary", [
    ("As such, the request is deemed not medically necessary.", False),
    ("The request is not considered medically necessary.", False),
    ("The request cannot be considered medically necessary.", False),
    ("Therefore, the request is not shown to be medically necessary.", False),
    ("The request for Norco is no longer medically necessary.", False),
    ("The MRI is determined to not be medically necessary.", False),
    ("Therefore the request is certified as medically necessary.", True),
    ("The request was felt to be medically necessary.", True),
    ("The request is not medically reasonable or necessary.", False),
    ("Accordingly, the request is not medically indicated.", False),
    ("Therefore, the request is not recommended as medically necessary.", False),
    ("Medical necessity of the requested Norco has not been established.", False),
    ("Medical necessity for the requested Lorzone has been established.", True),
    ("In light of the above, the request does not meet medical necessity.", False),
    ("The request did not meet the criteria for medical necessity.", False),
    ("The request meets medical necessity guidelines.", True),
    ("The medical necessity of the requested Lorzone is established.", True),
    ("Medical necessity for the request was not established.", False),
    ("The request is not reasonable and not medically necessary.", False),
    ("The request is reasonable and medically necessary.", True),
])
def test_conclusion_wordings(sentence, necessary):
    text = (LETTERS / "CM17-0005412.txt").read_text()
    last = text.rstrip().rfind("Therefore, the request is not medically necessary.")
    d = parse_text(text[:last] + sentence + "\n", "x", "x").decisions[0]
    assert (d.medically_necessary.value, d.medically_necessary.span.quote) == (necessary, sentence)


@pytest.mark.parametrize("condition", ["If the patient had improved, Norco would be medically necessary.",
                                       "With documented benefit, continued use could be medically necessary.",
                                       "A lower dose may be medically necessary in the future."])
def test_a_condition_after_the_conclusion_is_not_it(condition):
    text = (LETTERS / "CM17-0005412.txt").read_text()
    last = text.rstrip().rfind("Therefore, the request is not medically necessary.")
    conclusion = "Therefore, the request is not medically necessary."
    d = parse_text(text[:last] + f"{conclusion} {condition}\n", "x", "x").decisions[0]
    assert (d.medically_necessary.value, d.medically_necessary.span.quote) == (False, conclusion)


@pytest.mark.parametrize("line, item, outcome", [
    ("Lorzone 750mg one by mouth three times a day #45: Upheld.", "Lorzone 750mg one by mouth three times a day #45",
     "Upheld"),
    ("Lorzone 750mg #45 is: Overturned.", "Lorzone 750mg #45", "Overturned"),
    ("Lorzone 750mg #45  Upheld.", "Lorzone 750mg #45", "Upheld"),  # the colon lost too
    ("Lorzone 750mg #45 - Upheld", "Lorzone 750mg #45", "Upheld"),  # a dash for the colon
    ("Epidural steroid injection L4-5 \u2013 Overturned", "Epidural steroid injection L4-5", "Overturned"),
    ("Lorzone 750mg #45 -- Upheld", "Lorzone 750mg #45", "Upheld"),
    ("Lorzone 750mg #45 \u2014 Upheld", "Lorzone 750mg #45", "Upheld"),
    # a list's number before the item is not its words; a count is
    ("1. Lorzone 750mg #45: Upheld", "Lorzone 750mg #45", "Upheld"),
    ("(1) Lorzone 750mg #45: Upheld", "Lorzone 750mg #45", "Upheld"),
    ("1 prescription of Lorzone 750mg #45: Upheld", "1 prescription of Lorzone 750mg #45", "Upheld"),
])
def test_item_line_forms(line, item, outcome):
    """The outcome after a period or a dash, and a numbered item."""
    d = _with_item(line).decisions[0]
    assert (d.item.value, d.outcome.value) == (item, outcome)


EXTRACTED = LETTERS.parent / "extracted"  # the same PDFs' text from other tools than pypdf


@pytest.mark.parametrize("tool", ["pdftotext", "pdftotext-layout", "pdfminer"])
@pytest.mark.parametrize("name", ["CM16-0248471", "CM17-0011730"])
def test_the_cover_as_other_pdf_tools_read_it(tool, name):
    """pdftotext gives the cover's labels as a column, then their values ('Case Number:' /
    'Date Assigned:' / ... / 'CM16-0248471' / '01/03/2017' / ...); pdftotext -layout and
    pdfminer wrap 'Application' / 'Received:' around its value. pdfminer also puts some values
    before their labels ('10/13/2016' / 'Date of Injury:'): those are not read, never misread."""
    got = parse_file(EXTRACTED / tool / f"{name}.txt").cover
    want = _parse(name).cover
    unread = {"injury_date", "application_received"} if (tool, name) == ("pdfminer", "CM17-0011730") else set()
    for field in ("case_number", "date_assigned", "injury_date", "decision_date", "ur_denial_date", "priority",
                  "application_received"):
        value = getattr(got, field)
        assert (value.value if value else None) == (None if field in unread else getattr(want, field).value), field


def test_cover_values_from_pdftotext_columns():
    cover = parse_file(EXTRACTED / "pdftotext" / "CM16-0248471.txt").cover
    assert (cover.case_number.value, cover.date_assigned.value, cover.decision_date.value, cover.priority.value,
            cover.injury_date.value, cover.ur_denial_date.value, cover.application_received.value) == (
        "CM16-0248471", dt.date(2017, 1, 3), dt.date(2017, 2, 2), "Standard",
        dt.date(2016, 10, 13), dt.date(2016, 12, 2), dt.date(2016, 12, 27))
    assert cover.application_received.span.quote == "12/27/2016"


@pytest.mark.parametrize("tool", ["pdftotext", "pdftotext-layout", "pdfminer"])
@pytest.mark.parametrize("name", ["CM16-0248471", "CM17-0011730"])
def test_other_pdf_tools_text_gives_the_same_facts(tool, name):
    """Past the cover, the text of these tools reads as pypdf's does: every other fact the same."""
    got, want = facts(parse_file(EXTRACTED / tool / f"{name}.txt")), facts(_parse(name))
    for different in ("source_sha256", "cover") if tool == "pdfminer" else ("source_sha256",):
        got.pop(different), want.pop(different)
    assert got == want


@pytest.mark.parametrize("name", ["CM17-0006045", "CM17-0009282", "CM17-0011730"])
def test_ur_action_named_before_its_date(name):
    """'... which was noncertified by Utilization Review on December 27, 2016' (and in CM17-0011730 an
    item 'that was certified' earlier in the sentence, which is not the UR's action on the disputed one)."""
    ur = _parse(name).utilization_review
    assert (ur.action.value, ur.action.span.quote.replace("-", "")) == ("non-certified", "noncertified")


@pytest.mark.parametrize("path", [p for p in ALL_LETTERS if p.stem.startswith("CM")], ids=lambda p: p.stem)
def test_summary_ur_date_is_the_covers_ur_denial_date(path):
    """The summary's UR date, in every wording these letters use ('was previously reviewed on 12/02/2016.
    ... were previously denied', 'On 01-03-2017 the request ... was non-certified by utilization review'),
    is the cover's 'UR Denial Date'. Two summaries give no date."""
    record = parse_file(path)
    ur = record.utilization_review
    if path.stem in ("CM16-0248655", "CM17-0003619"):  # "was denied by utilization review", no date
        assert ur.date is None
    else:
        assert ur.date.value == record.cover.ur_denial_date.value
        assert ur.action.value in ("non-certified", "denied")
