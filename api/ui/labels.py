"""Chinese labels of data fields and choices, for the clerk's web pages (identifiers stay English)."""

from __future__ import annotations

# Words shared by every lifecycle; each lifecycle names its own fields (``Lifecycle.labels``).
GENERIC = {"reason": "理由", "note": "备注", "comment": "备注", "rule": "规则",
           # the supervision events every definition declares (交办, 提级办理, 催办)
           "org_unit": "交办给（单位代码）", "instruction": "交办要求",
           "due_in_working_days": "办理时限（工作日，不填按该级期限）"}

CHOICES = {
    "wages": "拖欠工资", "overtime": "加班费", "social_insurance": "社会保险", "injury": "工伤待遇",
    "termination": "解除劳动合同", "other": "其他", "visit": "来访", "phone": "电话", "online": "网上",
    "referral": "转办", "single": "单独组建", "joint": "联合组建", "roster": "参保名单", "manual": "手工录入",
    "inpatient": "住院", "special_outpatient": "门诊特殊病种", "critical_illness": "重大疾病",
    "id_card": "身份证", "bank_card": "银行卡", "invoice": "医疗费用发票", "itemized_bill": "费用明细清单",
    "insurance_settlement": "医保结算单", "discharge_summary": "出院小结", "diagnosis_certificate": "疾病诊断证明书",
    "safety": "安全生产", "overtime_pay": "加班工资", "employment": "劳动用工", "wage_arrears": "欠薪",
    "wechat": "微信平台", "operator": "话务员录入", "labour": "人社部门", "justice": "司法部门",
    "housing": "住建部门", "market": "市场监管部门", "formation": "建会批复", "re_election": "换届批复",
    "import": "台账导入",
}

LEVELS = {"city": "市总工会", "street": "镇（街道）", "enterprise": "基层工会"}
ROLES = {"admin": "管理员", "clerk": "干事", "mediator": "调解员", "reviewer": "审核员", "counter": "服务窗口",
         "viewer": "查看"}


def label_for(definition_key: str | None, path: str, event: str | None = None) -> str:
    """The Chinese label of a data field: the lifecycle's own for this event's form, then for the path
    (list indexes dropped: "invoices.0.amount" is "invoices.amount"), then any lifecycle's for the last name."""
    from api.lifecycles import LIFECYCLES

    path = ".".join(part for part in path.split(".") if not part.isdigit())
    lifecycle = LIFECYCLES.get(definition_key or "")
    if lifecycle is not None:
        for key in ((f"{event}:{path}",) if event else ()) + (path,):
            if key in lifecycle.labels:
                return lifecycle.labels[key]
    return field_label(path.rsplit(".", 1)[-1])


def field_label(name: str) -> str:
    """A field's label when its lifecycle is not known: the generic words, else the first lifecycle naming it."""
    from api.lifecycles import LIFECYCLES

    if name in GENERIC:
        return GENERIC[name]
    for lifecycle in LIFECYCLES.values():
        if name in lifecycle.labels:
            return lifecycle.labels[name]
    return name


def choice_label(value: object) -> str:
    return CHOICES.get(str(value), str(value))
