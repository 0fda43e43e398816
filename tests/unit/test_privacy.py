"""Personal data rules: declared in the definition (checked like the rest of it), applied by one pure function."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.test_definitions import DEFINITIONS, GOOD, refused, write
from workflow import privacy
from workflow.definitions import load_file
from workflow.privacy import PUBLIC, Viewer

PERSONAL = """\
personal:
  member.id_number: {label: 身份证号, mask: first4_last4, seen_by: [reviewer, clerk@owner]}
  applicants.*.phone: {mask: first3_last4, seen_by: [mediator]}
  bank_account: {mask: last4, seen_by: [admin@city]}
  contact:
    - when: anonymous
      mask: hide
      placeholder: （匿名）
      seen_by: [clerk@owner]
    - mask: last6
      seen_by: [clerk]
"""
DATA = {"member": {"name": "张三", "id_number": "331081199805201237"}, "bank_account": "6222021207001234567",
        "applicants": [{"name": "甲", "phone": "13800000000"}, {"name": "乙"}, {"name": "丙", "phone": "13900000000"}],
        "contact": "13700002222", "anonymous": True}


def rules(tmp_path: Path) -> tuple[privacy.PersonalRule, ...]:
    return load_file(write(tmp_path, GOOD + PERSONAL)).personal


def viewer(*roles: str, level: str = "street", owner: bool = False) -> Viewer:
    return Viewer(frozenset(roles), level, owner=owner)


def test_the_rules_are_read_from_the_definition(tmp_path: Path) -> None:
    loaded = rules(tmp_path)
    assert [(rule.path, rule.style, rule.when) for rule in loaded] == [
        ("member.id_number", "first4_last4", None), ("applicants.*.phone", "first3_last4", None),
        ("bank_account", "last4", None), ("contact", "hide", "anonymous"), ("contact", "last6", None)]
    assert [str(grant) for grant in loaded[0].grants] == ["reviewer", "clerk@owner"]


@pytest.mark.parametrize(("change", "reason"), [
    (("seen_by: [reviewer, clerk@owner]", "seen_by: [janitor]"),
     "line 12: personal field 'member.id_number': unknown role"),
    (("seen_by: [reviewer, clerk@owner]", "seen_by: [clerk@next_door]"), "unknown role or unit 'clerk@next_door'"),
    (("mask: last4", "mask: last3"), "line 14: personal field 'bank_account': mask must be one of"),
    (("applicants.*.phone:", "applicants..phone:"), "line 13: personal field 'applicants..phone': a path is"),
    (("      placeholder", "      color: red\n      placeholder"), "personal field 'contact': unknown key 'color'"),
    (("- when: anonymous\n      mask: hide", "- mask: hide"), "only the last of its rules may go without 'when'"),
])
def test_a_broken_personal_block_is_refused_with_the_line(tmp_path: Path, change: tuple[str, str], reason: str) -> None:
    text = GOOD + PERSONAL.replace(*change)
    assert text != GOOD + PERSONAL
    error = refused(tmp_path, text)
    assert any(reason in fault for fault in error.reasons), error.reasons


def test_a_viewer_without_a_grant_sees_each_style_of_mask(tmp_path: Path) -> None:
    result = privacy.apply(rules(tmp_path), DATA, viewer("counter"))
    assert result.data["member"] == {"name": "张三", "id_number": "3310**********1237"}
    assert [applicant.get("phone") for applicant in result.data["applicants"]] == ["138****0000", None, "139****0000"]
    assert result.data["bank_account"] == "***************4567"
    assert result.data["contact"] == "（匿名）" and result.shown == ()
    assert DATA["member"]["id_number"] == "331081199805201237"   # the input is left alone


def test_grants_by_role_by_owner_and_by_level(tmp_path: Path) -> None:
    loaded = rules(tmp_path)
    reviewer = privacy.apply(loaded, DATA, viewer("reviewer"))
    assert reviewer.data["member"]["id_number"] == "331081199805201237" and reviewer.shown == ("member.id_number",)
    assert privacy.apply(loaded, DATA, viewer("clerk")).data["member"]["id_number"] == "3310**********1237"
    owner = privacy.apply(loaded, DATA, viewer("clerk", owner=True))
    assert owner.shown == ("member.id_number", "contact") and owner.data["contact"] == "13700002222"
    assert privacy.apply(loaded, DATA, viewer("admin", level="city")).shown == ("bank_account",)
    assert privacy.apply(loaded, DATA, viewer("admin", level="street")).shown == ()


def test_the_first_rule_whose_flag_holds_applies(tmp_path: Path) -> None:
    named = {**DATA, "anonymous": False}
    assert privacy.apply(rules(tmp_path), named, viewer("clerk")).data["contact"] == "13700002222"
    assert privacy.apply(rules(tmp_path), named, viewer("mediator")).data["contact"] == "*****002222"
    # a history row carries only its own changes: the case's data decide the flag
    row = {"contact": "13700002222"}
    assert privacy.apply(rules(tmp_path), row, viewer("clerk"), facts=DATA).data["contact"] == "（匿名）"


def test_the_public_and_a_viewer_out_of_scope_see_everything_masked(tmp_path: Path) -> None:
    everything = ("reviewer", "clerk", "admin", "mediator")
    for outsider in (PUBLIC, Viewer(frozenset(everything), "city", owner=True, in_scope=False)):
        result = privacy.apply(rules(tmp_path), DATA, outsider)
        assert result.shown == () and "331081199805201237" not in str(result.data)


def test_absent_fields_are_neither_masked_nor_recorded(tmp_path: Path) -> None:
    result = privacy.apply(rules(tmp_path), {"member": {"name": "张三"}}, viewer("reviewer"))
    assert result.data == {"member": {"name": "张三"}} and result.shown == ()


def test_a_personal_field_no_schema_has_stops_the_start() -> None:
    from api.lifecycles import Lifecycles
    from api.plugins import LIFECYCLES
    from workflow.definitions import Catalog
    from workflow.errors import DefinitionError

    lifecycles = Lifecycles(LIFECYCLES)
    text = (DEFINITIONS / "medical_aid_claim.v1.yaml").read_text(encoding="utf-8")
    typo = text.replace("  member.id_number: {", "  member.idnumber: {")
    assert typo != text
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        write(Path(folder), typo, "medical_aid_claim.v1.yaml")
        with pytest.raises(DefinitionError) as error:
            lifecycles.check_against(Catalog.from_directory(folder, effects=lifecycles.effect_names))
    assert "personal field 'member.idnumber'" in str(error.value.reasons)


def test_the_readme_names_every_personal_field_the_definitions_declare() -> None:
    readme = (DEFINITIONS.parent / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("#### Who may see what"):readme.index("**The leak matrix**")]
    from api.plugins import bound_effects

    for path in sorted(DEFINITIONS.glob("*.yaml")):
        definition = load_file(path, bound_effects())
        for rule in definition.personal:
            assert f"| `{definition.key}` | `{rule.path}`" in table, (definition.key, rule.path)
