"""Generate the swarmops.swarm collection from the repository's own layout, then build it.

`python collection/build.py [--no-tarball]` (what `make collection` runs) writes the collection
tree to build/ansible_collections/swarmops/swarm/ (where ansible-test expects it) and, unless
told not to, `build/swarmops-swarm-VERSION.tar.gz` with `ansible-galaxy collection build`.
The repository stays the one source of truth: the tree is regenerated from scratch each time
and build/ is gitignored.

Where the collection's layout differs from the repository's, the copy is rewritten:
- library/NAME.py -> plugins/modules/NAME.py, module_utils/swarmops/NAME.py ->
  plugins/module_utils/NAME.py, with `ansible.module_utils.swarmops` imports pointed at the
  collection and the doc fragment named by its FQCN;
- roles and playbooks call the filters by their FQCN, since Ansible resolves a filter's short
  name only from ansible.builtin and the configured filter paths, never from the collection
  that holds the role or playbook;
- playbooks/NAME-WITH-DASHES.yml -> playbooks/NAME_WITH_DASHES.yml, because a collection
  playbook's name is an identifier (`ansible-playbook swarmops.swarm.remove_node`);
- site.yml joins them as playbooks/site.yml, importing preflight.yml from beside it.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
HERE = ROOT / "collection"
BUILD = ROOT / "build"

MODULE_UTILS_OLD = "ansible.module_utils.swarmops"
FRAGMENT_OLD = re.compile(r"^extends_documentation_fragment: \[swarmops\]$", re.M)
SKIP = shutil.ignore_patterns("__pycache__", "*.pyc")


def filter_names() -> list[str]:
    """The filters plugins/filter/swarmops.py exports, read from its source (no import)."""
    source = (ROOT / "plugins/filter/swarmops.py").read_text()
    start = source.index("def filters(")
    body = source[start:]
    return sorted(set(re.findall(r'"(swarmops_[a-z_]+)":', body)))


def qualify_filters(text: str, namespace: str, names: list[str]) -> str:
    """`x | swarmops_foo` -> `x | NS.NAME.swarmops_foo`, only after a pipe."""
    pattern = re.compile(r"(\|\s*)(" + "|".join(map(re.escape, names)) + r")\b")
    return pattern.sub(lambda m: m.group(1) + namespace + "." + m.group(2), text)


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def generate(out: Path, meta: dict) -> None:
    fqcn = f"{meta['namespace']}.{meta['name']}"
    utils_new = f"ansible_collections.{meta['namespace']}.{meta['name']}.plugins.module_utils"
    filters = filter_names()

    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)

    for name in ("galaxy.yml", "README.md", "CHANGELOG.md"):
        shutil.copy2(HERE / name, out / name)
    shutil.copytree(HERE / "meta", out / "meta", ignore=SKIP)

    modules = sorted((ROOT / "library").glob("*.py"))
    # A collection's docs link other modules by FQCN (validate-modules requires it); the
    # repository's keep the short names that `ansible-doc -M library` resolves.
    link = re.compile(r"M\((" + "|".join(re.escape(m.stem) for m in modules) + r")\)")
    for src in modules:
        text = src.read_text().replace(MODULE_UTILS_OLD, utils_new)
        text = link.sub(lambda m: f"M({fqcn}.{m.group(1)})", text)
        text = FRAGMENT_OLD.sub(f"extends_documentation_fragment: [{fqcn}.swarmops]", text)
        write(out / "plugins/modules" / src.name, text)

    for src in sorted((ROOT / "module_utils/swarmops").glob("*.py")):
        if src.name == "__init__.py":
            continue
        write(out / "plugins/module_utils" / src.name, src.read_text().replace(MODULE_UTILS_OLD, utils_new))

    for kind in ("doc_fragments", "filter"):
        for src in sorted((ROOT / "plugins" / kind).glob("*.py")):
            if src.name != "__init__.py":
                write(out / "plugins" / kind / src.name, src.read_text().replace(MODULE_UTILS_OLD, utils_new))

    shutil.copytree(ROOT / "roles", out / "roles", ignore=SKIP)
    for src in sorted((out / "roles").rglob("*")):
        if src.is_file() and src.suffix in (".yml", ".yaml", ".j2"):
            src.write_text(qualify_filters(src.read_text(), fqcn, filters))

    for src in sorted((ROOT / "playbooks").rglob("*.yml")):
        rel = src.relative_to(ROOT / "playbooks")
        if rel.parent == Path("."):
            rel = rel.with_name(rel.name.replace("-", "_"))
        write(out / "playbooks" / rel, qualify_filters(src.read_text(), fqcn, filters))
    site = (ROOT / "site.yml").read_text()
    site = site.replace("import_playbook: playbooks/preflight.yml", "import_playbook: preflight.yml")
    write(out / "playbooks/site.yml", qualify_filters(site, fqcn, filters))

    # ansible-test reads tests/sanity/ignore-X.Y.txt from the collection it tests.
    for src in sorted((ROOT / "tests/sanity").glob("ignore-*.txt")):
        write(out / "tests/sanity" / src.name, src.read_text())

    # ansible-test lists a collection's files with git from the nearest repository above it;
    # without one of its own that is this repository, which ignores build/, so it would find
    # nothing to test. An empty repository here makes it list every file (untracked ones too).
    # `ansible-galaxy collection build` leaves .git out of the tarball.
    subprocess.run(["git", "init", "-q", str(out)], check=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-tarball", action="store_true", help="generate the tree only")
    args = parser.parse_args()
    meta = yaml.safe_load((HERE / "galaxy.yml").read_text())
    out = BUILD / "ansible_collections" / meta["namespace"] / meta["name"]
    generate(out, meta)
    print(f"collection: generated {out.relative_to(ROOT)}")
    if args.no_tarball:
        return 0
    subprocess.run(["ansible-galaxy", "collection", "build", str(out), "--output-path", str(BUILD), "--force"],
                   check=True, stdout=subprocess.DEVNULL)
    tarball = BUILD / f"{meta['namespace']}-{meta['name']}-{meta['version']}.tar.gz"
    print(f"collection: built {tarball.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
