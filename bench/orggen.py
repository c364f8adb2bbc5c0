"""A synthetic organisation of any size, as an HR export (``org.csv``) and group nesting
(``groups.csv``), deterministic for a seed.

    python -m bench.orggen --people 300 --seed 42 --out examples/ [--with-bad-rows]

The organisation: a CEO, up to five C-level executives who own the divisions, and thirteen
departments, each a manager tree with a span of control of about 5–9 (front-line
"<Department> Manager", then "Director of <Department>", then "VP of <Department>" as the tree
gets taller). About 2 % of individual contributors are on leave, about 1 % have left (status
``terminated``, most with a termination date in one of several formats), and one in 300 left but
is still ``active`` with a past termination date, as HR systems lag. Dates are relative to the
fixed :data:`AS_OF`, never to today, so the files never change. Roughly 19 % of people land
in the leaders tier (people managers, executives, business analysts) and 11 % in the builders
tier (developers, data science, platform, IT operations): near the 70-20-10 model, not on it.
Groups: the direct memberships of the vocabulary below; organisations of 100 people or more also
get one ``team-<slug>-<n>`` group per manager below a department head, nested under the team of
that manager's manager or the department group, and every department group nests under
``All Staff``.

The vocabulary (columns, departments, titles, group names) is shared with the role-mapping rules
in ``mappings/``; change it only together with them.

``--with-bad-rows`` adds three rows that the reader must skip and report, which the committed
``examples/org.csv`` carries on purpose: one with no e-mail, one whose e-mail repeats an earlier
person's e-mail in other case (both rows reported, the later one skipped), and one with an
invalid e-mail. Reading the sample therefore yields all generated people and four problems.
"""

from __future__ import annotations

import argparse
import csv
import random
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

COLUMNS = (
    "employee_id", "work_email", "first_name", "last_name", "preferred_name", "department",
    "division", "title", "manager_employee_id", "location", "employment_type", "status",
    "hire_date", "termination_date", "groups",
)
AS_OF = date(2025, 6, 30)
DOMAIN = "example.com"
FIRST_KEY = 10001


@dataclass(frozen=True)
class Department:
    name: str
    division: str
    slug: str
    weight: float  # share of headcount outside the executive team, in %
    titles: tuple[tuple[str, int], ...]  # individual contributor titles and their weights
    manager_title: str = ""

    @property
    def group(self) -> str:
        return f"dept-{self.slug}"


DEPARTMENTS = (
    Department("Engineering", "Technology", "engineering", 6.0, (
        ("Software Engineer", 45), ("Senior Software Engineer", 30),
        ("Staff Software Engineer", 10), ("QA Engineer", 15)), "Engineering Manager"),
    Department("Data Science", "Technology", "data-science", 2.5, (
        ("Data Scientist", 40), ("Senior Data Scientist", 20), ("Statistical Analyst", 20),
        ("Data Analyst", 20))),
    Department("Platform", "Technology", "platform", 2.0, (
        ("MLOps Engineer", 25), ("Machine Learning Engineer", 25), ("Platform Engineer", 30),
        ("Site Reliability Engineer", 20)), "Engineering Manager"),
    Department("IT Operations", "Technology", "it-operations", 2.5, (
        ("Systems Administrator", 35), ("IT Support Specialist", 45), ("Network Engineer", 20))),
    Department("Product", "Technology", "product", 5.0, (
        ("Product Manager", 50), ("Business Analyst", 25), ("UX Designer", 25))),
    Department("Finance", "Corporate", "finance", 7.0, (
        ("Accountant", 50), ("Financial Analyst", 30), ("Business Analyst", 20))),
    Department("Human Resources", "Corporate", "hr", 5.0, (
        ("HR Generalist", 60), ("Recruiter", 40))),
    Department("Legal", "Corporate", "legal", 3.0, (("Counsel", 55), ("Paralegal", 45))),
    Department("Sales", "Commercial", "sales", 22.0, (
        ("Account Executive", 50), ("Sales Development Representative", 35),
        ("Sales Operations Analyst", 15))),
    Department("Marketing", "Commercial", "marketing", 10.0, (
        ("Marketing Specialist", 45), ("Content Writer", 30), ("Marketing Analyst", 25))),
    Department("Customer Support", "Commercial", "support", 18.0, (
        ("Support Specialist", 85), ("Support Team Lead", 15))),
    Department("Operations", "Operations", "operations", 17.0, (
        ("Operations Specialist", 63), ("Business Analyst", 15),
        ("Procurement Specialist", 22))),
)
EXECUTIVE = Department("Executive", "Leadership", "executive", 0.0, ())
CEO_TITLE = "Chief Executive Officer"
C_LEVEL = (  # in the order they are hired as the organisation grows
    ("Chief Technology Officer",
     ("Engineering", "Data Science", "Platform", "IT Operations", "Product")),
    ("Chief Revenue Officer", ("Sales", "Marketing", "Customer Support")),
    ("Chief Financial Officer", ("Finance", "Legal")),
    ("Chief Operating Officer", ("Operations",)),
    ("Chief People Officer", ("Human Resources",)),
)
NESTING = (
    ("executive-team", "people-managers"),
    ("ds-practitioners", "technology"),
    ("mlops-engineers", "technology"),
    ("developers", "technology"),
    ("dept-it-operations", "technology"),
    ("stats-analysts", "analytics"),
    ("business-analysts", "analytics"),
)
ROLE_GROUPS = {
    "MLOps Engineer": "mlops-engineers", "Machine Learning Engineer": "mlops-engineers",
    "Platform Engineer": "mlops-engineers", "Software Engineer": "developers",
    "Senior Software Engineer": "developers", "Staff Software Engineer": "developers",
    "QA Engineer": "developers", "Business Analyst": "business-analysts",
    "Statistical Analyst": "stats-analysts",
}
LEADER_GROUPS = frozenset({"people-managers", "executive-team", "business-analysts"})
BUILDER_GROUPS = frozenset({
    "developers", "ds-practitioners", "mlops-engineers", "dept-platform", "dept-it-operations",
})
TEAMS_FROM = 100  # organisations at least this big get team-<slug>-<n> subgroups
LOCATIONS = (("London", 30), ("New York", 25), ("Berlin", 15), ("Singapore", 10),
             ("Sydney", 10), ("Toronto", 10))
EMPLOYMENT = (("full-time", 88), ("part-time", 7), ("contractor", 5))

FIRST_NAMES = (
    "Olivia", "Liam", "Emma", "Noah", "Amelia", "Oliver", "Sophia", "Elijah", "Isabella",
    "James", "Mia", "William", "Charlotte", "Benjamin", "Harper", "Lucas", "Evelyn", "Henry",
    "Abigail", "Alexander", "Emily", "Daniel", "Elizabeth", "Michael", "Sofía", "Mateo",
    "Camila", "Santiago", "Valentina", "José", "Zoë", "Chloé", "Léa", "Théo", "Søren", "Åsa",
    "Björn", "Jürgen", "Müge", "Łukasz", "Zofia", "Agnieszka", "Priya", "Arjun", "Ananya",
    "Rohan", "Aisha", "Omar", "Fatima", "Yusuf", "Wei", "Mei", "Jun", "Hiroshi", "Yuki",
    "Sakura", "Min-jun", "Seo-yeon", "Thanh", "Linh", "Kwame", "Amara", "Chinedu", "Ngozi",
    "Siobhán", "Niamh", "Seán", "Catherine", "Katherine", "Robert", "Jonathan", "Margaret",
    "Christopher", "Thomas", "Rebecca", "Samuel", "Nicholas", "Jennifer", "Matthew", "Victoria",
    "Andrew", "Jessica", "Joshua", "Stephanie", "David", "Sarah", "Gabriel", "Renée", "François",
    "Inès", "Ravi", "Deepika", "Tomás", "Joaquín", "Ivan", "Olga", "Dmitri", "Anastasia",
)
LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernández", "López", "González", "Wilson", "Anderson", "Thomas", "Taylor",
    "Moore", "Jackson", "Martin", "Lee", "Pérez", "Thompson", "White", "Harris", "Sánchez",
    "Clark", "Ramírez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright",
    "Scott", "Torres", "Nguyễn", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall",
    "Rivera", "Campbell", "Mitchell", "Carter", "Roberts", "Müller", "Schmidt", "Schneider",
    "Fischer", "Weber", "Wagner", "Becker", "Schäfer", "Koch", "Dubois", "Lefèvre", "Moreau",
    "Laurent", "Rossi", "Russo", "Ferrari", "Esposito", "Kowalski", "Wiśniewski", "Nowak",
    "Jensen", "Nielsen", "Hansen", "Andersson", "Johansson", "Ødegaard", "O'Brien", "O'Connor",
    "Murphy", "Kelly", "Patel", "Sharma", "Singh", "Kumar", "Gupta", "Khan", "Ali", "Chen",
    "Wang", "Zhang", "Liu", "Tanaka", "Suzuki", "Kim", "Park", "Okafor", "Mensah", "Ivanov",
    "Petrov", "Smith-Jones",
)
NICKNAMES = {
    "Alexander": "Alex", "Benjamin": "Ben", "Catherine": "Cathy", "Christopher": "Chris",
    "Daniel": "Dan", "Elizabeth": "Liz", "Jennifer": "Jen", "Jonathan": "Jon",
    "Katherine": "Kate", "Margaret": "Maggie", "Matthew": "Matt", "Michael": "Mike",
    "Nicholas": "Nick", "Rebecca": "Becky", "Robert": "Bob", "Samuel": "Sam", "Thomas": "Tom",
    "Victoria": "Vicky", "William": "Will", "Joshua": "Josh", "Stephanie": "Steph",
    "Anastasia": "Nastya", "Dmitri": "Dima", "Olivia": "Liv", "Andrew": "Andy",
}
_FOLD = str.maketrans({"ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "æ": "ae", "ß": "ss", "đ": "d"})


def _weighted(rng: random.Random, choices: Sequence[tuple[str, int]]) -> str:
    return rng.choices([c for c, _ in choices], weights=[w for _, w in choices])[0]


def _mail_part(name: str) -> str:
    folded = unicodedata.normalize("NFKD", name.translate(_FOLD))
    return "".join(c for c in folded.lower() if c.isascii() and (c.isalnum() or c == "-"))


def _split(total: int, weights: Sequence[float]) -> list[int]:
    """``total`` split in proportion to ``weights`` (largest remainder)."""
    raw = [total * w / sum(weights) for w in weights]
    out = [int(x) for x in raw]
    for i in sorted(range(len(raw)), key=lambda i: (out[i] - raw[i], i))[: total - sum(out)]:
        out[i] += 1
    return out


def _chunks(count: int, rng: random.Random) -> list[int]:
    """``count`` reports split into teams of about 5–9."""
    k = max(1, round(count / 7))
    sizes = [count // k + (1 if i < count % k else 0) for i in range(k)]
    for _ in range(k):
        i, j = rng.randrange(k), rng.randrange(k)
        if sizes[i] > 5 and sizes[j] < 9:
            sizes[i] -= 1
            sizes[j] += 1
    return sizes


def department_tree(size: int, rng: random.Random) -> list[tuple[int, int]]:
    """(parent index, level) for each of ``size`` people, the head first (parent -1);
    level 0 is an individual contributor, 1 a front-line manager, 2 a director, 3+ a VP."""
    if size <= 10:
        return [(-1, 1 if size > 1 else 0)] + [(0, 0)] * (size - 1) if size else []
    teams = [_chunks(round(size * 6 / 7), rng)]  # teams[j][i]: reports of node i on level j+1
    while len(teams[-1]) > 1:
        teams.append(_chunks(len(teams[-1]), rng))
    extra = size - sum(sum(level) for level in teams) - 1
    frontline = teams[0]
    for i in range(abs(extra)):
        frontline[i % len(frontline)] += 1 if extra > 0 else -1
    nodes: list[tuple[int, int]] = [(-1, len(teams))]
    above = [0]
    for depth in range(len(teams) - 1, -1, -1):
        below = []
        for parent, reports in zip(above, teams[depth], strict=True):
            for _ in range(reports):
                below.append(len(nodes))
                nodes.append((parent, depth))
        above = below
    return nodes


def _title(dept: Department, level: int, rng: random.Random) -> str:
    if level == 0:
        return _weighted(rng, dept.titles)
    if level == 1:
        return dept.manager_title or f"{dept.name} Manager"
    return f"Director of {dept.name}" if level == 2 else f"VP of {dept.name}"


@dataclass
class _Member:
    key: str
    dept: Department
    title: str
    manager: int  # index into the people list, -1 for the CEO
    level: int  # 0 individual contributor; executives are level 9
    team: str = ""  # team-<slug>-<n> this person leads, if any


def _structure(n: int, rng: random.Random) -> list[_Member]:
    people = [_Member("", EXECUTIVE, CEO_TITLE, -1, 9)]
    chiefs = C_LEVEL[: min(len(C_LEVEL), (n - 1) // 10)]
    owner: dict[str, int] = {}
    for title, owned in chiefs:
        owner.update(dict.fromkeys(owned, len(people)))
        people.append(_Member("", EXECUTIVE, title, 0, 9))
    sizes = _split(n - len(people), [d.weight for d in DEPARTMENTS])
    for dept, size in zip(DEPARTMENTS, sizes, strict=True):
        base = len(people)
        teams = 0
        for parent, level in department_tree(size, rng):
            manager = owner.get(dept.name, 0) if parent < 0 else base + parent
            member = _Member("", dept, _title(dept, level, rng), manager, level)
            if n >= TEAMS_FROM and level > 0 and parent >= 0:
                teams += 1
                member.team = f"team-{dept.slug}-{teams}"
            people.append(member)
    keys = [f"E{FIRST_KEY + i}" for i in range(n)]
    rest = keys[1:]
    rng.shuffle(rest)
    for member, key in zip(people, keys[:1] + rest, strict=True):
        member.key = key
    return people


def generate(n: int, seed: int = 42) -> tuple[list[dict[str, str]], list[tuple[str, str]]]:
    """``n`` people as export rows (:data:`COLUMNS`), sorted by key, and the nesting edges
    (group, parent)."""
    if n < 1:
        raise ValueError("an organisation needs at least one person")
    rng = random.Random(seed)
    people = _structure(n, rng)
    managers = {m.manager for m in people}
    leaf = [i for i, m in enumerate(people) if i not in managers and m.level == 0]
    leave_count, stale_count = round(n * 0.022), round(n / 300)
    picked = rng.sample(leaf, min(len(leaf), leave_count + round(n * 0.012) + stale_count))
    on_leave = set(picked[:leave_count])
    left = set(picked[leave_count:])
    stale = set(picked[leave_count : leave_count + stale_count])  # left, HR still says active
    locations: list[str] = []  # by index; a manager comes before their reports
    emails: dict[str, int] = {}
    rows: list[dict[str, str]] = []
    edges = [*NESTING, *((d.group, "All Staff") for d in (EXECUTIVE, *DEPARTMENTS))]
    for i, m in enumerate(people):
        boss = people[m.manager] if m.manager >= 0 else None
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        local = f"{_mail_part(first)}.{_mail_part(last)}"
        emails[local] = emails.get(local, 0) + 1
        if emails[local] > 1:
            local += str(emails[local])
        nickname = NICKNAMES.get(first, "")
        if boss is None:
            location = "London"
        elif rng.random() < 0.6:
            location = locations[m.manager]
        else:
            location = _weighted(rng, LOCATIONS)
        locations.append(location)
        hired = AS_OF - timedelta(days=rng.randrange(60, 6000) if i else 6500)
        status, ended = "active", ""
        if i in on_leave:
            status = "leave"
        elif i in left:
            status = "active" if i in stale else "terminated"
            if i in stale or rng.random() < 0.7:
                end = AS_OF - timedelta(days=rng.randrange(1, 50))
                ended = _date_text(max(end, hired + timedelta(days=30)), rng)
        groups = ["All Staff", m.dept.group]
        if boss is not None and boss.team:
            groups.append(boss.team)
        if m.team:
            groups.append(m.team)
            parent_team = boss.team if boss is not None and boss.team else m.dept.group
            edges.append((m.team, parent_team))
        if m.dept.name == "Data Science":
            groups.append("ds-practitioners")
        if m.title in ROLE_GROUPS:
            groups.append(ROLE_GROUPS[m.title])
        if i in managers:
            groups.append("people-managers")
        if m.level == 9:
            groups.append("executive-team")
        rows.append({
            "employee_id": m.key, "work_email": f"{local}@{DOMAIN}", "first_name": first,
            "last_name": last, "preferred_name": nickname if rng.random() < 0.4 else "",
            "department": m.dept.name, "division": m.dept.division, "title": m.title,
            "manager_employee_id": boss.key if boss is not None else "", "location": location,
            "employment_type": _weighted(rng, EMPLOYMENT) if m.level == 0 else "full-time",
            "status": status, "hire_date": hired.isoformat(), "termination_date": ended,
            "groups": ";".join(dict.fromkeys(groups)),
        })
    rows.sort(key=lambda r: int(r["employee_id"][1:]))
    return rows, edges


def _date_text(day: date, rng: random.Random) -> str:
    """HR systems are inconsistent: ISO, d/m/Y with day > 12, or "12 Mar 2025"."""
    form = rng.randrange(3)
    if form == 1 and day.day > 12:
        return day.strftime("%d/%m/%Y")
    if form == 2:
        return f"{day.day} {day.strftime('%b')} {day.year}"
    return day.isoformat()


def with_bad_rows(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """``rows`` with the three bad rows described in the module docstring spread among them."""
    if len(rows) < 9:
        raise ValueError("bad rows need an organisation of at least 9 people")
    out = list(rows)
    n = len(rows)
    template = rows[n // 2]

    def bad(offset: int, **cells: str) -> dict[str, str]:
        return {**template, "employee_id": f"E{FIRST_KEY + n + offset}",
                "preferred_name": "", **cells}

    original = rows[n // 6]
    local, _, domain = original["work_email"].partition("@")
    shouted = f"{local.title()}@{domain.title()}"
    out.insert(2 * n // 3, bad(2, first_name="Kim", last_name="Lee",
                               work_email="kim.lee(at)example.com"))
    out.insert(n // 3, bad(1, first_name=original["first_name"],
                           last_name=original["last_name"], work_email=shouted))
    out.insert(n // 9, bad(0, first_name="Pat", last_name="Doe", work_email=""))
    return out


def tier_shares(rows: Sequence[dict[str, str]]) -> dict[str, float]:
    """Share of people per tier when managers, executives and business analysts lead and the
    technical groups build (the way the shipped mappings read this vocabulary)."""
    counts = {"leaders": 0, "builders": 0, "consumers": 0}
    for row in rows:
        groups = set(row["groups"].split(";"))
        tier = ("leaders" if groups & LEADER_GROUPS else
                "builders" if groups & BUILDER_GROUPS else "consumers")
        counts[tier] += 1
    return {tier: count / max(1, len(rows)) for tier, count in counts.items()}


def write(
    path_org: Path, path_groups: Path, n: int, seed: int = 42, *, bad_rows: bool = False
) -> None:
    """Generate and write the export and the nesting file."""
    rows, edges = generate(n, seed)
    write_rows(path_org, path_groups, with_bad_rows(rows) if bad_rows else rows, edges)


def write_rows(
    path_org: Path, path_groups: Path, rows: Sequence[dict[str, str]],
    edges: Sequence[tuple[str, str]],
) -> None:
    """Write people rows and nesting edges as CSV (UTF-8, ``\\n`` line ends)."""
    with path_org.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    with path_groups.open("w", encoding="utf-8", newline="") as out:
        plain = csv.writer(out, lineterminator="\n")
        plain.writerow(("group", "parent"))
        plain.writerows(edges)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.orggen", description=__doc__.split(
        "\n\n")[0] if __doc__ else None)
    parser.add_argument("--people", type=int, default=300)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, default=Path("examples"))
    parser.add_argument("--with-bad-rows", action="store_true",
                        help="add the three rows the reader must skip and report")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    org, groups = args.out / "org.csv", args.out / "groups.csv"
    rows, edges = generate(args.people, args.seed)
    write_rows(org, groups, with_bad_rows(rows) if args.with_bad_rows else rows, edges)
    shares = tier_shares(rows)
    print(f"wrote {org} and {groups}: {args.people} people, " + ", ".join(
        f"{tier} {share:.1%}" for tier, share in shares.items()))


if __name__ == "__main__":
    main()
