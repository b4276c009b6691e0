"""A staff handbook of short English pages, one topic each, and questions asked in other
languages and in other words: the English embedding model of the index barely understands them
and BM25 finds none of their words, so the fused order is poor, while a multilingual model
(the rerank double's e5) knows what they ask. Used by the rerank tests and benchmark."""

from __future__ import annotations

from pathlib import Path

PAGES = {
    "vacation.md": (
        "# Annual leave\n\nEvery employee is entitled to 27 paid holiday days per calendar year. "
        "Holidays must be requested in the HR portal at least two weeks in advance and approved by "
        "your manager. Up to five unused days carry over to the next year."
    ),
    "sick-leave.md": (
        "# Sick leave\n\nIf you are ill, tell your manager before 9:00 on the first day. From the "
        "third day of illness a doctor's certificate is required. Sick days do not reduce your "
        "annual leave."
    ),
    "expenses.md": (
        "# Travel expenses\n\nBusiness trips are booked through the travel desk. Keep every "
        "receipt; submit the expense report within 30 days of returning. Meals are reimbursed up to "
        "45 euros per day."
    ),
    "parking.md": (
        "# Car park\n\nThe underground garage has 120 spaces. Staff parking permits are issued by "
        "facilities for 20 euros a month. Bicycle racks are free and next to the north entrance."
    ),
    "laptop.md": (
        "# Computers\n\nEach new hire receives a laptop on the first morning. Broken hardware is "
        "swapped by the IT helpdesk within one working day; do not install unapproved software."
    ),
    "password.md": (
        "# Passwords\n\nPasswords must be at least 14 characters long and are changed every 180 "
        "days. Multi-factor authentication is mandatory for e-mail and the VPN. Never share your "
        "password."
    ),
    "canteen.md": (
        "# Canteen\n\nThe staff restaurant on the ground floor serves lunch from 11:30 to 14:00. A "
        "vegetarian dish is offered every day, and coffee is free all day in the kitchenettes."
    ),
    "salary.md": (
        "# Pay\n\nSalaries are paid on the 25th of each month by bank transfer. Payslips are in the "
        "HR portal. Overtime is paid at 125 percent of the hourly rate or taken as time off."
    ),
    "remote-work.md": (
        "# Working from home\n\nYou may work from home up to three days a week after agreeing it "
        "with your team. Core hours are 10:00 to 15:00. The company pays 30 euros a month towards "
        "internet."
    ),
    "parental-leave.md": (
        "# Parental leave\n\nNew parents may take up to 14 months of parental leave. Tell HR at "
        "least seven weeks before it starts. Your position is kept for you until you return."
    ),
    "fire-safety.md": (
        "# Fire safety\n\nWhen the alarm sounds, leave by the nearest stairs, never the lift, and "
        "gather at the assembly point in the front car park. Fire wardens wear yellow vests."
    ),
    "training.md": (
        "# Learning budget\n\nEvery employee has 1500 euros a year for courses, books and "
        "conferences. Ask your manager to approve a course before booking it."
    ),
    "badge.md": (
        "# Access cards\n\nYour access card opens the building and the floors you work on. A lost "
        "card must be reported to security at once; a replacement costs 10 euros."
    ),
    "pension.md": (
        "# Retirement plan\n\nThe company adds 4 percent of your gross salary to a pension fund "
        "each month once you have worked here for six months."
    ),
    "dress-code.md": (
        "# Clothing\n\nThere is no dress code in the office. When meeting customers, dress as they "
        "would expect. Protective shoes are required in the warehouse."
    ),
    "probation.md": (
        "# Probation period\n\nThe first six months are a probation period, during which either "
        "side may end the contract with two weeks' notice."
    ),
}

# (question, the page that answers it): none shares a content word with its page.
QUESTIONS = [
    ("Wie viele Urlaubstage bekomme ich im Jahr?", "vacation.md"),
    ("Что делать, если я заболел?", "sick-leave.md"),
    ("¿Cuándo se paga el sueldo?", "salary.md"),
    ("Combien coûte une place de stationnement pour la voiture ?", "parking.md"),
    ("Ich habe meinen Ausweis verloren, was nun?", "badge.md"),
    ("Можно ли работать из дома?", "remote-work.md"),
    ("Où puis-je déjeuner au bureau ?", "canteen.md"),
    ("Wie lang muss mein Kennwort sein?", "password.md"),
    ("¿Qué hago si suena la alarma de incendio?", "fire-safety.md"),
    ("Сколько длится испытательный срок?", "probation.md"),
]


def write_pages(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in PAGES.items():
        (root / name).write_text(text + "\n", encoding="utf-8")
    return root
