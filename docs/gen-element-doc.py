#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Writes the generated part of docs/element.md from the built plugin.

    docs/gen-element-doc.py                  # build/gst/klingo1 -> docs/element.md
    docs/gen-element-doc.py --build DIR      # another build directory
    docs/gen-element-doc.py --plugin-path DIR -o OUT.md

It runs `gst-inspect-1.0 klingo1src` with only the given plugin directory
visible (and a throw-away registry), turns the factory details, pads and
properties into markdown tables, and puts them between the two marker lines
of the template (by default the current docs/element.md). Everything outside
the markers is hand-written and copied as it is. tests/check/docs.sh runs
this into a temporary file and fails when the result differs from
docs/element.md.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile

BEGIN = "<!-- gen-element-doc.py: begin (generated from gst-inspect-1.0; do not edit) -->"
END = "<!-- gen-element-doc.py: end -->"

# Properties of GstObject and GstBaseSrc: listed apart from klingo1src's own.
INHERITED = {"name", "parent", "blocksize", "num-buffers", "typefind",
             "do-timestamp"}

SECTION_RE = re.compile(r"^(\S.*):$")
PROP_RE = re.compile(r"^  (\S+)\s*: (.*)$")
DETAIL_INDENT = " " * 24


def run_inspect(plugin_path):
    env = dict(os.environ)
    env["GST_PLUGIN_PATH"] = plugin_path
    # Only this plugin: an installed copy must not answer instead.
    env["GST_PLUGIN_SYSTEM_PATH_1_0"] = ""
    env["LC_ALL"] = "C"
    env.pop("GST_PLUGIN_PATH_1_0", None)
    with tempfile.TemporaryDirectory() as tmp:
        env["GST_REGISTRY_1_0"] = os.path.join(tmp, "registry.bin")
        env.pop("GST_REGISTRY", None)
        proc = subprocess.run(["gst-inspect-1.0", "klingo1src"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True)
    if proc.returncode != 0:
        sys.exit("gst-inspect-1.0 klingo1src failed with %s as plugin path:\n%s"
                 % (plugin_path, proc.stderr))
    return proc.stdout


def split_sections(text):
    """Top-level sections of gst-inspect's output: title -> lines."""
    sections = {}
    current = None
    for line in text.splitlines():
        m = SECTION_RE.match(line)
        if m and not line.startswith(" "):
            current = m.group(1)
            sections[current] = []
        elif current is not None:
            sections[current].append(line.rstrip())
    return sections


def key_values(lines):
    out = {}
    for line in lines:
        m = re.match(r"^  (\S[^ ]*(?: [^ ]+)*?)\s{2,}(.*)$", line)
        if m:
            out[m.group(1)] = m.group(2).strip()
    return out


def parse_properties(lines):
    props = []
    prop = None
    for line in lines:
        if not line.strip():
            continue
        m = PROP_RE.match(line)
        if m and not line.startswith(DETAIL_INDENT):
            prop = {"name": m.group(1), "blurb": m.group(2).strip(),
                    "flags": "", "details": [], "values": []}
            props.append(prop)
            continue
        if prop is None:
            continue
        detail = line.strip()
        if detail.startswith("flags:"):
            prop["flags"] = detail[len("flags:"):].strip()
        elif re.match(r"^\(-?\d+\): ", detail):
            vm = re.match(r"^\((-?\d+)\): (\S+)\s+- (.*)$", detail)
            if vm:
                prop["values"].append(vm.groups())
            else:
                vm = re.match(r"^\((-?\d+)\): (\S+)$", detail)
                prop["values"].append((vm.group(1), vm.group(2), ""))
        else:
            prop["details"].append(detail)
    for p in props:
        describe_type(p)
    return props


def squeeze(text):
    return re.sub(r"\s+", " ", text).strip()


def describe_type(p):
    """Fills type, default, range and access from the detail lines."""
    details = " ".join(p["details"])
    p["type"] = ""
    p["default"] = ""
    p["range"] = ""
    p["write_only"] = details.endswith("Write only")
    if p["write_only"]:
        details = details[:-len("Write only")].strip()

    m = re.match(r'^Enum "([^"]+)" Default: (-?\d+), "([^"]*)"$', details)
    if m:
        p["type"] = "enum " + m.group(1)
        p["enum"] = m.group(1)
        p["default"] = m.group(3)
        p["range"] = ", ".join("`%s`" % v[1] for v in p["values"])
        return
    m = re.match(r'^Flags "([^"]+)" Default: (\S+), "([^"]*)"$', details)
    if m:
        p["type"] = "flags " + m.group(1)
        p["enum"] = m.group(1)
        p["default"] = m.group(3)
        p["range"] = ", ".join("`%s`" % v[1] for v in p["values"])
        return
    m = re.match(r'^Default: (.*) GstValueArray of GValues of type "([^"]+)"$',
                 details)
    if m:
        element = {"gchararray": "string"}.get(m.group(2), m.group(2))
        p["type"] = "array of %s (GstValueArray)" % element
        p["default"] = squeeze(m.group(1)).strip('"')
        return
    m = re.match(r'^Object of type "([^"]+)"$', details)
    if m:
        p["type"] = "object " + m.group(1)
        return
    m = re.match(r"^(String|Boolean)\. Default: (.*)$", details)
    if m:
        p["type"] = m.group(1).lower()
        p["default"] = m.group(2).strip()
        if p["default"].startswith('"') and p["default"].endswith('"'):
            p["default"] = p["default"][1:-1]
        return
    m = re.match(r"^(Unsigned Integer64|Integer64|Unsigned Integer|Integer|"
                 r"Unsigned Long|Long|Float|Double)\. Range: (.*?) - (.*?) "
                 r"Default: (.*)$", details)
    if m:
        p["type"] = {
            "Unsigned Integer": "uint", "Integer": "int",
            "Unsigned Integer64": "uint64", "Integer64": "int64",
            "Unsigned Long": "ulong", "Long": "long",
            "Float": "float", "Double": "double",
        }[m.group(1)]
        p["range"] = "%s - %s" % (m.group(2).strip(), m.group(3).strip())
        p["default"] = m.group(4).strip()
        return
    # Anything else is shown as gst-inspect prints it.
    p["type"] = details


def access(p):
    flags = [f.strip() for f in p["flags"].split(",")]
    readable = "readable" in flags
    writable = "writable" in flags
    if readable and writable:
        text = "read-write"
    elif writable:
        text = "write-only"
    else:
        text = "read-only"
    if "changeable only in NULL or READY state" in flags:
        text += ", NULL/READY"
    if "deprecated" in flags:
        text += ", deprecated"
    if "controllable" in flags:
        text += ", controllable"
    return text


def cell(text):
    text = text.replace("\\", "\\\\").replace("|", "\\|")
    text = text.replace("*", "\\*").replace("<", "&lt;")
    return text


def code(text):
    if text == "":
        return ""
    if text == "null":
        return "unset"
    return "`%s`" % text.replace("|", "\\|")


def property_table(props):
    out = ["| property | type | default | range or values | access | description |",
           "|---|---|---|---|---|---|"]
    for p in props:
        typ = p["type"]
        if "enum" in p:
            typ = "[%s](#%s)" % (p["enum"], p["enum"].lower())
        if p["range"] and "enum" not in p:
            rng = code(p["range"])
        else:
            rng = p["range"]
        out.append("| `%s` | %s | %s | %s | %s | %s |" % (
            p["name"], typ, code(p["default"]), rng, access(p),
            cell(p["blurb"])))
    return out


def generate(text):
    sections = split_sections(text)
    factory = key_values(sections.get("Factory Details", []))
    plugin = key_values(sections.get("Plugin Details", []))
    out = []

    out.append("## Factory")
    out.append("")
    out.append("| | |")
    out.append("|---|---|")
    for label, value in (
            ("element", "`klingo1src`"),
            ("long name", factory.get("Long-name", "")),
            ("class", factory.get("Klass", "")),
            ("description", factory.get("Description", "")),
            ("rank", factory.get("Rank", "")),
            ("plugin", "`%s` %s (%s), %s" % (plugin.get("Name", ""),
                                             plugin.get("Version", ""),
                                             plugin.get("Source module", ""),
                                             plugin.get("License", ""))),
    ):
        out.append("| %s | %s |" % (label, cell(value)))

    hierarchy = [l.strip().lstrip("+-").strip()
                 for l in sections.get("GObject", []) if l.strip()]
    if hierarchy:
        out.append("| hierarchy | %s |" % " > ".join(
            ["GObject"] + hierarchy))
    ifaces = [l.strip() for l in sections.get("Implemented Interfaces", [])
              if l.strip()]
    if ifaces:
        out.append("| interfaces | %s |" % ", ".join(ifaces))
    protocols = []
    in_protocols = False
    for l in sections.get("URI handling capabilities", []):
        if "Supported URI protocols" in l:
            in_protocols = True
        elif in_protocols and l.strip():
            protocols.append("`%s://`" % l.strip())
    if protocols:
        out.append("| URI protocols | %s (source, see [uris.md](uris.md)) |"
                   % ", ".join(protocols))
    out.append("")

    out.append("## Pad templates")
    out.append("")
    out.append("| pad | direction | availability | caps |")
    out.append("|---|---|---|---|")
    pad = None
    for l in sections.get("Pad Templates", []):
        m = re.match(r"^  (SRC|SINK) template: '([^']+)'$", l)
        if m:
            pad = {"dir": m.group(1).lower(), "name": m.group(2),
                   "avail": "", "caps": []}
            continue
        if pad is None:
            continue
        s = l.strip()
        if s.startswith("Availability:"):
            pad["avail"] = s.split(":", 1)[1].strip().lower()
        elif s and l.startswith("      ") and not s.startswith("Capabilities:"):
            pad["caps"].append(s)
            out_line = "| `%s` | %s | %s | `%s` |" % (
                pad["name"], pad["dir"], pad["avail"], " ".join(pad["caps"]))
            # the last caps line seen wins: one row per template
            if out[-1].startswith("| `%s` |" % pad["name"]):
                out[-1] = out_line
            else:
                out.append(out_line)
    out.append("")

    props = parse_properties(sections.get("Element Properties", []))
    own = [p for p in props if p["name"] not in INHERITED]
    base = [p for p in props if p["name"] in INHERITED]

    out.append("## Properties")
    out.append("")
    out.append("Access: `NULL/READY` means the property can only be set while "
               "the element is in the NULL or READY state (before the "
               "pipeline starts). Defaults are those of a new element; "
               "`unset` is a NULL string.")
    out.append("")
    out.extend(property_table(own))
    out.append("")

    enums = [p for p in props if "enum" in p]
    if enums:
        out.append("### Enumerations")
        out.append("")
        for p in enums:
            out.append("#### %s" % p["enum"])
            out.append("")
            out.append("Property `%s`." % p["name"])
            out.append("")
            out.append("| value | nick | meaning |")
            out.append("|---|---|---|")
            for value, nick, desc in p["values"]:
                out.append("| %s | `%s` | %s |" % (value, nick, cell(desc)))
            out.append("")

    if base:
        out.append("### From GstObject and GstBaseSrc")
        out.append("")
        out.extend(property_table(base))
        out.append("")

    for title in ("Element Signals", "Element Actions"):
        lines = sections.get(title)
        if lines:
            out.append("## %s" % title.split(" ", 1)[1])
            out.append("")
            out.append("```")
            out.extend(l for l in lines if l.strip())
            out.append("```")
            out.append("")

    while out and out[-1] == "":
        out.pop()
    return out


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    top = os.path.dirname(here)
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(top, "build"),
                    help="build directory (default: build/ in the source tree)")
    ap.add_argument("--plugin-path",
                    help="directory of libgstklingo1.so (default: BUILD/gst/klingo1)")
    ap.add_argument("--template", default=os.path.join(here, "element.md"),
                    help="file whose marked part is replaced (default: docs/element.md)")
    ap.add_argument("-o", "--output",
                    help="where to write (default: the template, in place)")
    args = ap.parse_args()

    plugin_path = args.plugin_path or os.path.join(args.build, "gst", "klingo1")
    with open(args.template, encoding="utf-8") as f:
        template = f.read()
    if template.count(BEGIN) != 1 or template.count(END) != 1 \
            or template.index(BEGIN) > template.index(END):
        sys.exit("%s: needs exactly one pair of marker lines:\n%s\n%s"
                 % (args.template, BEGIN, END))
    head, rest = template.split(BEGIN, 1)
    _, tail = rest.split(END, 1)

    generated = generate(run_inspect(plugin_path))
    text = head + BEGIN + "\n\n" + "\n".join(generated) + "\n\n" + END + tail

    output = args.output or args.template
    tmp = output + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, output)


if __name__ == "__main__":
    main()
