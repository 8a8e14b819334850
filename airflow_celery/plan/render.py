"""The plan for people (rich tables) and for machines (a JSON document)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from airflow_celery.plan import Plan
from airflow_celery.plan.mwaa import BASE_CLASS, Comparison
from airflow_celery.plan.network import Network
from airflow_celery.plan.pricing import PRICES_AS_OF, CostLine, Estimate, Price
from airflow_celery.plan.resources import ResourceGroups, short_type
from airflow_celery.plan.roles import RoleRow


def _usd(value: float) -> str:
    return f"${value:,.2f}"


def _mark(prices: tuple[Price, ...]) -> str:
    return " *" if any(not price.verified for price in prices) else ""


def print_plan(plan: Plan, console: Console) -> None:
    console.print(f"[bold]Plan for stack {plan.stack}[/bold]: component {plan.config.name!r} in {plan.region}")
    for warning in plan.mocks.warnings:
        console.print(f"[yellow]warning:[/yellow] {warning}")
    console.print(resources_table(plan.resources))
    console.print(roles_table(plan.roles))
    if plan.dag_source is not None:
        console.print("[bold]DAG source[/bold]")
        for fact in plan.dag_source.facts():
            console.print(f"  - {fact}", markup=False, highlight=False)
    console.print(network_table(plan.network))
    for fact in plan.network.public:
        console.print(f"  - {fact}")
    console.print(cost_table(plan.cost))
    _cost_notes(plan.cost, console)
    console.print(mwaa_table(plan.mwaa))


def resources_table(groups: ResourceGroups) -> Table:
    table = Table(title=f"Resources ({groups.total}, from the component run under mocks)", title_justify="left")
    for column in ("concern", "type", "count"):
        table.add_column(column, justify="right" if column == "count" else "left")
    for concern, types in groups.by_concern.items():
        for index, (type_token, count) in enumerate(types.items()):
            table.add_row(concern if index == 0 else "", short_type(type_token), str(count))
        if not types:
            table.add_row(concern, "-", "0")
    return table


def roles_table(rows: list[RoleRow]) -> Table:
    table = Table(title="Roles", title_justify="left")
    for column in ("role", "runs on", "command", "size", "count (min-max)", "secrets it reads"):
        table.add_column(column)
    for row in rows:
        table.add_row(row.role, row.runs_on, row.command, row.size, row.count_text, ", ".join(row.secrets) or "-")
    return table


def network_table(network: Network) -> Table:
    table = Table(title="Network: who may reach whom (security-group ingress, from cluster/edges.py)",
                  title_justify="left")  # fmt: skip
    for column in ("from", "to", "port", "why"):
        table.add_column(column)
    for reach in network.matrix:
        source = f"[red]{reach.source}[/red] (internet)" if reach.from_internet else reach.source
        table.add_row(source, reach.target, str(reach.port), reach.why)
    return table


def cost_table(cost: Estimate) -> Table:
    table = Table(title=f"Monthly cost estimate, {cost.region}, list prices of {PRICES_AS_OF}", title_justify="left")
    for column in ("service", "item", "quantity", "per month"):
        table.add_column(column, justify="right" if column == "per month" else "left")
    for line in cost.lines:
        table.add_row(
            line.concern, line.item + _range(line), line.quantity, _usd(line.monthly_usd) + _mark(line.prices)
        )
    table.add_row("", "[bold]total[/bold]", "", f"[bold]{_usd(cost.total)}[/bold]")
    if cost.total_with_schedule is not None:
        awake = round((cost.awake_share or 0) * 168)
        table.add_row("", f"[bold]total with the hibernation schedule[/bold] (awake {awake} h of 168 a week)", "",
                      f"[bold]{_usd(cost.total_with_schedule)}[/bold]")  # fmt: skip
    return table


def _range(line: CostLine) -> str:
    if line.range_usd is None:
        return ""
    low, high = line.range_usd
    return f"; {_usd(low)} at min, {_usd(high)} at max workers"


def _cost_notes(cost: Estimate, console: Console) -> None:
    assumed = ", ".join(f"{key}={value:g}" for key, value in cost.assumptions.items())
    console.print(f"  Assumed usage: {assumed}. Not counted: data transfer out, ECR storage, S3 task logs, "
                  "Container Insights performance log events, backups beyond the free allowance.")  # fmt: skip
    if cost.unverified:
        console.print("  * a price that could not be verified from a source (see airflow_celery/plan/pricing.py).")


def mwaa_table(comparison: Comparison) -> Table:
    title = f"Same worker capacity on Amazon MWAA: {comparison.slots} concurrent task slots"
    table = Table(title=title, title_justify="left")
    for column in ("option", "workers", "per month", "this cluster / MWAA"):
        table.add_column(column, justify="left" if column == "option" else "right")
    for option in comparison.options:
        ratio = comparison.ours_usd / option.monthly_usd
        chosen = " (cheapest)" if option == comparison.cheapest else ""
        table.add_row(f"MWAA {option.environment_class}{chosen}", str(option.workers),
                      _usd(option.monthly_usd) + _mark(option.prices), f"{ratio:.2f}")  # fmt: skip
    table.add_row(f"MWAA {BASE_CLASS} environment alone (MWAA's floor)", "1", _usd(comparison.base_usd),
                  f"{comparison.base_ratio:.2f}")  # fmt: skip
    table.add_row("this cluster (every line above)", "", _usd(comparison.ours_usd), "")
    return table


# --- JSON -----------------------------------------------------------------------------------------------------


def _price(price: Price) -> dict[str, Any]:
    return {"usd": price.usd, "unit": price.unit, "source": price.source, "verified": price.verified}


def to_json(plan: Plan) -> dict[str, Any]:
    groups, network, cost, comparison = plan.resources, plan.network, plan.cost, plan.mwaa
    return {
        "stack": plan.stack,
        "region": plan.region,
        "name": plan.config.name,
        "prices_as_of": PRICES_AS_OF,
        "warnings": list(plan.mocks.warnings),
        "resources": {"total": groups.total, "by_concern": groups.by_concern},
        "roles": [
            {"role": r.role, "runs_on": r.runs_on, "command": r.command, "size": r.size, "count": r.count,
             "min_count": r.min_count, "max_count": r.max_count, "secrets": list(r.secrets)}
            for r in plan.roles
        ],
        "dag_source": None if plan.dag_source is None else {
            "source": plan.dag_source.source, "bundle_readers": list(plan.dag_source.bundle_readers),
            "credential_holders": list(plan.dag_source.credential_holders),
            "credential_readers": list(plan.dag_source.credential_readers), "storage": plan.dag_source.storage,
        },
        "network": {
            "matrix": [{"from": r.source, "to": r.target, "port": r.port, "why": r.why,
                        "from_internet": r.from_internet} for r in network.matrix],
            "public": network.public,
        },
        "cost": {
            "lines": [{"service": line.concern, "item": line.item, "quantity": line.quantity,
                       "monthly_usd": line.monthly_usd, "range_usd": line.range_usd,
                       "prices": [_price(p) for p in line.prices]} for line in cost.lines],
            "total_monthly_usd": cost.total,
            "total_monthly_usd_with_hibernation": cost.total_with_schedule,
            "assumptions": cost.assumptions,
            "unverified_prices": [_price(p) for p in cost.unverified],
        },
        "mwaa": {
            "slots": comparison.slots,
            "options": [{"environment_class": o.environment_class, "workers": o.workers,
                         "monthly_usd": o.monthly_usd, "prices": [_price(p) for p in o.prices]}
                        for o in comparison.options],
            "cheapest": comparison.cheapest.environment_class,
            "mwaa_monthly_usd": comparison.cheapest.monthly_usd,
            "ours_monthly_usd": comparison.ours_usd,
            "ratio": comparison.ratio,
            "base_monthly_usd": comparison.base_usd,
            "base_ratio": comparison.base_ratio,
        },
    }  # fmt: skip
