import pytest

from ran_desktop.engine.grading import (
    DME_GRADE_NAMES,
    DR_GRADE_NAMES,
    GUIDELINE,
    EyeGrades,
    Outcome,
    patient_result,
    recommend,
)


def test_grade_names_follow_the_scales():
    assert DR_GRADE_NAMES == ("No apparent DR", "Mild NPDR", "Moderate NPDR", "Severe NPDR", "Proliferative DR")
    assert len(DME_GRADE_NAMES) == 3 and DME_GRADE_NAMES[0] == "No DME"


@pytest.mark.parametrize("dr", range(5))
@pytest.mark.parametrize("dme", range(3))
def test_derived_decisions_for_every_grade_pair(dr, dme):
    d = EyeGrades(dr, dme)
    assert d.any_dr == (dr >= 1)
    assert d.referable == (dr >= 2 or dme >= 1)
    assert d.urgent == (dr >= 3 or dme == 2)
    outcome = d.recommendation.outcome
    if d.urgent:
        assert outcome is Outcome.URGENT_REFERRAL
    elif d.referable:
        assert outcome is Outcome.REFERRAL
    else:
        assert outcome is Outcome.ROUTINE_RESCREEN
    assert d.recommendation.guideline == GUIDELINE


def test_follow_up_intervals():
    assert recommend(4, 0).within_months == 1
    assert recommend(0, 2).within_months == 1
    assert recommend(3, 0).within_months == 3
    assert recommend(1, 1).within_months == 3
    assert recommend(2, 0).within_months == 6
    assert recommend(1, 0).within_months == 12
    assert "1-2 years" in recommend(0, 0).follow_up


def test_out_of_range_grades_are_refused():
    with pytest.raises(ValueError):
        EyeGrades(5, 0)
    with pytest.raises(ValueError):
        EyeGrades(0, 3)


def test_ungradable_is_never_no_dr():
    rec = recommend(None, None)
    assert rec.outcome is Outcome.UNGRADABLE
    assert "no DR" not in rec.outcome.value
    assert "re-take" in rec.follow_up or "refer" in rec.follow_up


def test_worse_eye_decides_for_the_patient():
    result = patient_result([(0, 0), (3, 0)])
    assert result.recommendation.outcome is Outcome.URGENT_REFERRAL
    assert result.worst_dr_grade == 3 and result.worst_dme_grade == 0
    assert result.referable


def test_shorter_interval_wins_within_one_outcome():
    assert patient_result([(3, 0), (4, 0)]).recommendation.within_months == 1
    assert patient_result([(2, 0), (1, 1)]).recommendation.within_months == 3


def test_ungradable_eye_outranks_a_normal_eye_but_not_a_referral():
    normal_and_ungradable = patient_result([(0, 0), (None, None)])
    assert normal_and_ungradable.recommendation.outcome is Outcome.UNGRADABLE
    assert normal_and_ungradable.eyes_ungradable == 1 and normal_and_ungradable.eyes_graded == 1
    assert not normal_and_ungradable.referable
    referral_and_ungradable = patient_result([(2, 0), (None, None)])
    assert referral_and_ungradable.recommendation.outcome is Outcome.REFERRAL


def test_patient_with_only_ungradable_eyes():
    result = patient_result([(None, None), (None, None)])
    assert result.recommendation.outcome is Outcome.UNGRADABLE
    assert result.worst_dr_grade is None


def test_patient_needs_an_eye():
    with pytest.raises(ValueError):
        patient_result([])


# --- the operating point: referable from the probability of referable disease, not the most probable grade ---

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from ran_desktop.engine.grading import model_grades, referable_probability  # noqa: E402


def _probs(n: int):
    return st.lists(st.floats(0.001, 1.0), min_size=n, max_size=n).map(lambda v: tuple(x / sum(v) for x in v))


def test_a_grade_1_eye_with_enough_referable_probability_is_referred():
    dr, dme = (0.05, 0.55, 0.30, 0.05, 0.05), (0.9, 0.07, 0.03)
    assert model_grades(dr, dme, None) == (1, 0)  # arg-max: mild, not referable
    assert referable_probability(dr, dme) == pytest.approx(0.40)
    assert model_grades(dr, dme, 0.35) == (2, 0)  # the threshold refers it: the most probable referable grade
    assert model_grades(dr, dme, 0.45) == (1, 0)


def test_dme_alone_can_make_an_eye_referable():
    dr, dme = (0.7, 0.2, 0.05, 0.03, 0.02), (0.6, 0.1, 0.3)
    assert referable_probability(dr, dme) == pytest.approx(0.4)
    assert model_grades(dr, dme, 0.3) == (0, 2)
    assert model_grades(dr, dme, 0.5) == (0, 0)


@given(_probs(5), _probs(3), st.floats(0.01, 1.0))
def test_the_grades_agree_with_the_referable_flag(dr, dme, threshold):
    g_dr, g_dme = model_grades(dr, dme, threshold)
    referable = g_dr >= 2 or g_dme >= 1
    assert referable == (referable_probability(dr, dme) >= threshold)
    assert (g_dr >= 2) == (sum(dr[2:]) >= threshold) and (g_dme >= 1) == (sum(dme[1:]) >= threshold)
