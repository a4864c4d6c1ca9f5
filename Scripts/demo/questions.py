"""Questions about a shape scene, and their four-stage answers, in a form a small model can follow.

A question is a *spec* (its kind and what it asks about, chosen by `make_spec`); `solve(spec,
objs)` derives the reasoning and the conclusion from the objects, so the same question can be
answered about a changed scene (the judge's wrong candidates, see dialogues.py).

The reasoning walks the caption's shapes in reading order, one short item each ("top left: red
circle, yes, 1"), with a running count where there is one: each step looks at one shape and the
step before it, which a four-layer model learns far more easily than picking an answer out of a
whole caption at once. Relative positions go through row and column numbers.
"""
from __future__ import annotations

import os

# Checked lookups (PONDER_DEMO_CHECKS=1 and later modes; 6 by default): where the reasoning must copy
# what *precedes* a match (an option's letter, the name before the odd size), it then reads the
# match back and says whether it agrees ("which is option C (check: option C is red,
# mismatch)."), so that a slip is marked inside the candidate itself. (A check of the place in
# position questions broke their reasoning in the first pilot and was taken out.)
# PONDER_DEMO_CHECKS=2 checks by walking instead of looking up: the check copies the options (or
# the size list) in order up to the claimed one and compares that one's value with the claim
# ("which is option C (check: A. yellow; B. blue; C. red, mismatch)."), so it is made of the
# moves the model already makes reliably (the scans), not of the lookup that slipped.
# PONDER_DEMO_CHECKS=3 walks as 2 does, then restates the claim right after the walked value
# ("C. red, said yellow: mismatch"), so that the verdict compares two words a few positions apart.
# PONDER_DEMO_CHECKS=4 is 3, and a position question's last step restates the relation asked
# next to the one found ("Column 2 is right of column 1; asked left of, so the answer is no"):
# without it the answer must compare "right of" with a word of the question far back, which the
# trained models get right about half the time.
# PONDER_DEMO_CHECKS=5 is 4, with the extreme answer said before its check ("…, so its colour is
# green (check: …)"; after it, the answer copied the walk's last shape, right or not), and counts
# checked: the count is followed by the matching shapes read again from the caption, counted, and
# compared with it ("The count is 2 (check: left: red circle, 1; bottom: red circle, 2, said 2:
# match)."), so that a scan item flipped in sampling is marked.
# PONDER_DEMO_CHECKS=6 is 5, with a choice check that compares every option it walks with the
# value found, as a walk does, and whose verdict repeats the last comparison ("which is option B
# (check for red: A. red, yes; B. blue, no: mismatch)."): the verdict then rests on the walk's
# yes/no, which every trained model learns, and not on a match/mismatch learnt from the slips.
CHECK_MODE = CHECKS = WALK = LOCAL = ASKED = COUNTED = ITEMISED = None


def set_check_mode(mode: str):
    """Switch the answer format to PONDER_DEMO_CHECKS=`mode` ("" for none) in this process and in
    the worker processes started after it (train.py --late-checks: one format, then another)."""
    global CHECK_MODE, CHECKS, WALK, LOCAL, ASKED, COUNTED, ITEMISED
    os.environ["PONDER_DEMO_CHECKS"] = CHECK_MODE = mode
    CHECKS = mode in ("1", "2", "3", "4", "5", "6")
    WALK = mode in ("2", "3", "4", "5", "6")
    LOCAL = mode in ("3", "4", "5", "6")
    ASKED = mode in ("4", "5", "6")
    COUNTED = mode in ("5", "6")
    ITEMISED = mode == "6"


# The shipped model answers in mode 6 with SOUGHT (below); the environment variables choose
# another format for experiments ("" or 0: none).
set_check_mode(os.environ.get("PONDER_DEMO_CHECKS", "6"))
# PONDER_DEMO_SOUGHT=1 (the default): each step of a walk restates the item's attributes that
# are sought before its yes/no ("Looking for blue: top left: blue square, blue, yes, 1"), so that
# every walk compares the word just written with its target: one comparison for colour, shape
# and both, where without it a colour walk compares the word two back and a shape walk the last.
# PONDER_DEMO_SOUGHT=2 also restates the target after them ("top left: blue square, blue vs
# green, no"), so that the comparison is between two neighbouring words.
SOUGHT = os.environ.get("PONDER_DEMO_SOUGHT", "1") in ("1", "2")
VERSUS = os.environ.get("PONDER_DEMO_SOUGHT", "1") == "2"
COUNT_KINDS = ["count_both", "count_colour", "count_shape"]

COLOURS = ["red", "green", "blue", "yellow", "purple", "orange"]
SHAPES = ["circle", "square", "triangle", "diamond"]
PLURAL = {"circle": "circles", "square": "squares", "triangle": "triangles", "diamond": "diamonds"}
POSITIONS = [["top left", "top", "top right"], ["left", "center", "right"],
             ["bottom left", "bottom", "bottom right"]]
KINDS = ["count_both", "count_colour", "count_shape", "colour_of", "shape_of", "position", "where",
         "extreme", "exists", "arithmetic", "choice"]


def pos_word(o):
    return POSITIONS[o["row"]][o["col"]]


def name_of(o):
    return f"{o['colour']} {o['shape']}"


def item(o):
    return f"{pos_word(o)}: {name_of(o)}"


def caption(objs):
    return "The image shows " + "; ".join(f"at the {pos_word(o)} a {o['size']} {name_of(o)}" for o in objs) + "."


def answer_text(summary, cap, reasoning, conclusion):
    return (f"<SUMMARY>{summary}</SUMMARY>\n\n<CAPTION>{cap}</CAPTION>\n\n"
            f"<REASONING>{reasoning}</REASONING>\n\n<CONCLUSION>{conclusion}</CONCLUSION>")


def _matches(o, colour=None, shape=None):
    return (colour is None or o["colour"] == colour) and (shape is None or o["shape"] == shape)


def _step(o, colour=None, shape=None):
    """One walk step before its yes/no: the item, and with SOUGHT its attributes that are sought."""
    if not SOUGHT:
        return item(o)
    said = f"{item(o)}, {_target(colour and o['colour'], shape and o['shape'])}"
    return f"{said} vs {_target(colour, shape)}" if VERSUS else said


def _count_scan(objs, colour=None, shape=None, flip=None):
    """(text, count): every shape in order, 'yes, k' with the running count or 'no' (the item
    at index `flip` answered the wrong way: a slip)."""
    parts, n = [], 0
    for i, o in enumerate(objs):
        if _matches(o, colour, shape) != (i == flip):
            n += 1
            parts.append(f"{_step(o, colour, shape)}, yes, {n}")
        else:
            parts.append(f"{_step(o, colour, shape)}, no")
    return "; ".join(parts), n


def _find_scan(objs, colour=None, shape=None):
    """(text, found object or None): the shapes in order up to the first match."""
    parts = []
    for o in objs:
        if _matches(o, colour, shape):
            parts.append(f"{_step(o, colour, shape)}, yes")
            return "; ".join(parts), o
        parts.append(f"{_step(o, colour, shape)}, no")
    return "; ".join(parts), None


def _what(colour=None, shape=None, plural=True):
    if colour and shape:
        return f"{colour} {PLURAL[shape] if plural else shape}"
    if colour:
        return f"{colour} shapes" if plural else f"{colour} object"
    return PLURAL[shape] if plural else shape


def _target(colour=None, shape=None):
    """What a scan looks for, in the words of the caption's items (singular), so that each
    item is compared with the same tokens written just before the scan."""
    return " ".join(w for w in (colour, shape) if w)


# ------------------------------------------------------------------ specs

def make_spec(objs, kind, rng):
    """A question of `kind` about `objs`, or None when the scene does not fit it. `extreme`
    makes one shape the only one of its size (the scene is drawn after this)."""
    if kind in ("count_both", "exists"):
        if rng.random() < (0.7 if kind == "count_both" else 0.5):
            o = objs[rng.integers(len(objs))]
            c, s = o["colour"], o["shape"]
        else:
            c, s = str(rng.choice(COLOURS)), str(rng.choice(SHAPES))
        return dict(kind=kind, colour=c, shape=s)
    if kind == "count_colour":
        c = str(rng.choice([o["colour"] for o in objs])) if rng.random() < 0.8 else str(rng.choice(COLOURS))
        return dict(kind=kind, colour=c)
    if kind == "count_shape":
        s = str(rng.choice([o["shape"] for o in objs])) if rng.random() < 0.8 else str(rng.choice(SHAPES))
        return dict(kind=kind, shape=s)
    if kind in ("colour_of", "shape_of", "choice"):
        by = "shape" if kind == "colour_of" or (kind == "choice" and rng.random() < 0.5) else "colour"
        uniq = [o for o in objs if sum(p[by] == o[by] for p in objs) == 1]
        if not uniq:
            return None
        o = uniq[rng.integers(len(uniq))]
        spec = dict(kind=kind, by=by, value=o[by])
        if kind == "choice":
            asked = "colour" if by == "shape" else "shape"
            pool = COLOURS if asked == "colour" else SHAPES
            opts = [o[asked]] + [str(x) for x in rng.choice([v for v in pool if v != o[asked]], 2, replace=False)]
            rng.shuffle(opts)
            spec["options"] = opts
        return spec
    uniq_both = [o for o in objs if sum(name_of(p) == name_of(o) for p in objs) == 1]
    if kind == "position":
        pairs = [(a, b) for a in uniq_both for b in uniq_both if a is not b]
        if not pairs:
            return None
        a, b = pairs[rng.integers(len(pairs))]
        axis = "col" if rng.random() < 0.5 else "row"
        if a[axis] == b[axis]:
            axis = "row" if axis == "col" else "col"
        if a[axis] == b[axis]:
            return None
        rel = str(rng.choice(["left of", "right of"] if axis == "col" else ["above", "below"]))
        return dict(kind=kind, a=name_of(a), b=name_of(b), rel=rel)
    if kind == "where":
        if not uniq_both:
            return None
        o = uniq_both[rng.integers(len(uniq_both))]
        return dict(kind=kind, colour=o["colour"], shape=o["shape"])
    if kind == "extreme":
        if len(objs) < 2:
            return None
        which = str(rng.choice(["large", "small"]))
        o = objs[rng.integers(len(objs))]
        for p in objs:
            p["size"] = which if p is o else ("small" if which == "large" else "large")
            lo, hi = (12, 15) if p["size"] == "small" else (22, 27)
            p["side"] = int(rng.integers(lo, hi + 1))
        return dict(kind=kind, which=which, attr=str(rng.choice(["colour", "shape"])))
    if kind == "arithmetic":
        if rng.random() < 0.5:
            s1, s2 = (str(x) for x in rng.choice(SHAPES, size=2, replace=False))
            return dict(kind=kind, op="sum", first=dict(shape=s1), second=dict(shape=s2))
        present = list(dict.fromkeys(o["colour"] for o in objs))
        c1 = str(rng.choice(present))
        c2 = str(rng.choice([c for c in COLOURS if c != c1]))
        n1, n2 = (sum(o["colour"] == c for o in objs) for c in (c1, c2))
        if n1 < n2:
            c1, c2 = c2, c1
        return dict(kind=kind, op="difference", first=dict(colour=c1), second=dict(colour=c2))
    raise ValueError(kind)


def question_text(spec):
    k = spec["kind"]
    if k == "count_both":
        return f"How many {spec['colour']} {PLURAL[spec['shape']]} are there?"
    if k == "count_colour":
        return f"How many {spec['colour']} shapes are there?"
    if k == "count_shape":
        return f"How many {PLURAL[spec['shape']]} are there?"
    if k == "exists":
        return f"Is there a {spec['colour']} {spec['shape']}?"
    if k == "colour_of":
        return f"What colour is the {spec['value']}?"
    if k == "shape_of":
        return f"What shape is the {spec['value']} object?"
    if k == "choice":
        o = spec["options"]
        head = f"What colour is the {spec['value']}?" if spec["by"] == "shape" else f"What shape is the {spec['value']} object?"
        return f"{head} Options: A. {o[0]} B. {o[1]} C. {o[2]}. Answer with the letter."
    if k == "position":
        if spec["rel"] in ("left of", "right of"):
            return f"Is the {spec['a']} to the {spec['rel']} the {spec['b']}?"
        return f"Is the {spec['a']} {spec['rel']} the {spec['b']}?"
    if k == "where":
        return f"Where is the {spec['colour']} {spec['shape']}?"
    if k == "extreme":
        sup = "largest" if spec["which"] == "large" else "smallest"
        return f"What colour is the {sup} shape?" if spec["attr"] == "colour" else f"What shape is the {sup} object?"
    if k == "arithmetic":
        f, s = spec["first"], spec["second"]
        if spec["op"] == "sum":
            return f"How many {PLURAL[f['shape']]} and {PLURAL[s['shape']]} are there in total?"
        return f"How many more {f['colour']} shapes than {s['colour']} shapes are there?"
    raise ValueError(k)


def summary_text(spec):
    k = spec["kind"]
    if k in ("count_both", "count_colour", "count_shape"):
        return f"I will go through the shapes one by one and count the {_what(spec.get('colour'), spec.get('shape'))}."
    if k == "exists":
        return f"I will go through the shapes one by one and look for a {spec['colour']} {spec['shape']}."
    if k == "colour_of":
        return f"I will find the {spec['value']} and name its colour."
    if k == "shape_of":
        return f"I will find the {spec['value']} object and name its shape."
    if k == "choice":
        return "I will find the object in question and match it to the options."
    if k == "position":
        return f"I will locate the {spec['a']} and the {spec['b']} and compare their rows and columns."
    if k == "where":
        return f"I will find the {spec['colour']} {spec['shape']} and say where it is."
    if k == "extreme":
        return f"I will compare the sizes of the shapes and find the {'largest' if spec['which'] == 'large' else 'smallest'} one."
    if k == "arithmetic":
        f, s = spec["first"], spec["second"]
        if spec["op"] == "sum":
            return f"I will count the {PLURAL[f['shape']]} and the {PLURAL[s['shape']]} and add the counts."
        return f"I will count the {f['colour']} shapes and the {s['colour']} shapes and subtract."
    raise ValueError(k)


def _located(objs, name):
    return next((o for o in objs if name_of(o) == name), None)


def _check(reading, holds, said=None):
    """The forward reading of a lookup and whether it agrees with what the lookup was for (with
    LOCAL, `said` restates the claim next to the value read)."""
    verdict = "match" if holds else "mismatch"
    return f" (check: {reading}, said {said}: {verdict})" if LOCAL and said else f" (check: {reading}, {verdict})"


def slip_of(spec, objs, rng):
    """A lookup slip for `solve(spec, objs, slip)`: another option's letter (choice), another
    shape as the odd-sized one (extreme), or (the index of the named shape whose place is wrong,
    the index of the shape whose place it takes) (position); None when the question has none."""
    k = spec["kind"]
    if k in COUNT_KINDS and COUNTED:
        return int(rng.integers(len(objs)))
    if k == "choice":
        right = solve(spec, objs)[1]
        return str(rng.choice([x for x in "ABC" if x != right])) if right in ("A", "B", "C") else None
    if k == "extreme":
        pick = [o for o in objs if o["size"] == spec["which"]]
        if len(pick) != 1 or len(objs) < 2:
            return None
        others = [i for i, o in enumerate(objs) if o is not pick[0]]
        return int(others[int(rng.integers(len(others)))])
    if k == "position":
        named = [i for i, o in enumerate(objs) if name_of(o) in (spec["a"], spec["b"])]
        if len(named) != 2 or len(objs) < 3:
            return None
        target = named[int(rng.integers(2))]
        donors = [i for i, o in enumerate(objs) if name_of(o) not in (spec["a"], spec["b"])]
        return target, int(donors[int(rng.integers(len(donors)))])
    return None


def solve(spec, objs, slip=None):
    """(reasoning, conclusion) of `spec` about `objs`; with `slip` (from `slip_of`), the
    reasoning copies the wrong neighbour there and goes on from it (its checks, with CHECKS,
    still read the scene as it is)."""
    return _solve(spec, objs, slip)[:2]


def check_span(spec, objs, slip):
    """(start, end) of the check after the slipped lookup in `solve(spec, objs, slip)[0]`."""
    return _solve(spec, objs, slip)[2]


def _solve(spec, objs, slip=None):
    k = spec["kind"]
    if k in COUNT_KINDS:
        scan, n = _count_scan(objs, spec.get("colour"), spec.get("shape"), slip)
        text = f"Looking for {_target(spec.get('colour'), spec.get('shape'))}: {scan}. The count is {n}"
        if not COUNTED:
            return f"{text}.", str(n), None
        found = [o for o in objs if _matches(o, spec.get("colour"), spec.get("shape"))]
        reading = "; ".join(f"{item(o)}, {i + 1}" for i, o in enumerate(found)) or "none, 0"
        check = _check(reading, len(found) == n, str(n))
        return f"{text}{check}.", str(n), (len(text), len(text) + len(check))
    if k == "exists":
        scan, o = _find_scan(objs, spec["colour"], spec["shape"])
        return (f"Looking for {_target(spec['colour'], spec['shape'])}: {scan}. So the answer is {'yes' if o else 'no'}.",
                "yes" if o else "no", None)
    if k in ("colour_of", "shape_of", "choice", "where"):
        if k == "where":
            target = dict(colour=spec["colour"], shape=spec["shape"])
        else:
            target = {spec["by"]: spec["value"]}
        scan, o = _find_scan(objs, target.get("colour"), target.get("shape"))
        scan = f"Looking for {_target(target.get('colour'), target.get('shape'))}: {scan}"
        if o is None:
            return f"{scan}. None matches.", "none", None
        if k == "where":
            return f"{scan}. So it is at the {pos_word(o)}.", pos_word(o), None
        asked = "colour" if (k == "colour_of" or (k == "choice" and spec["by"] == "shape")) else "shape"
        value = o[asked]
        said = f"it is {value}" if asked == "colour" else f"it is a {value}"
        if k != "choice":
            return f"{scan}. So {said}.", value, None
        opts = spec["options"]
        letter = "ABC"[opts.index(value)] if value in opts else "none"
        letter = slip or letter
        text = f"{scan}. So {said}, which is option {letter}"
        if CHECKS and letter in ("A", "B", "C"):
            upto = "ABC".index(letter)
            reading = "; ".join(f"{x}. {opts[i]}" for i, x in enumerate("ABC"[:upto + 1])) if WALK else \
                f"option {letter} is {opts[upto]}"
            check = _check(reading, opts[upto] == value, value)
            if ITEMISED:
                reading = "; ".join(f"{x}. {opts[i]}, {'yes' if opts[i] == value else 'no'}"
                                    for i, x in enumerate("ABC"[:upto + 1]))
                check = f" (check for {value}: {reading}: {'match' if opts[upto] == value else 'mismatch'})"
            return f"{text}{check}.", letter, (len(text), len(text) + len(check))
        return f"{text}.", letter, None
    if k == "position":
        a, b = _located(objs, spec["a"]), _located(objs, spec["b"])
        if a is None or b is None:
            return f"The {spec['a'] if a is None else spec['b']} is not in the image.", "no", None
        if slip is not None:   # the place of another shape copied for a or b
            if objs[slip[0]] is a:
                a = objs[slip[1]]
            else:
                b = objs[slip[1]]
        la = f"The {spec['a']} is at the {pos_word(a)}: row {a['row'] + 1}, column {a['col'] + 1}"
        lb = f"The {spec['b']} is at the {pos_word(b)}: row {b['row'] + 1}, column {b['col'] + 1}"
        span = None
        if WALK:   # each place read back by walking the caption's shapes up to it
            ca = _check("; ".join(item(o) for o in objs[:objs.index(a) + 1]), name_of(a) == spec["a"], spec["a"])
            cb = _check("; ".join(item(o) for o in objs[:objs.index(b) + 1]), name_of(b) == spec["b"], spec["b"])
            if slip is not None:
                span = (len(la), len(la) + len(ca)) if name_of(a) != spec["a"] else \
                    (len(la + ca) + 2 + len(lb), len(la + ca) + 2 + len(lb) + len(cb))
            la, lb = la + ca, lb + cb
        la, lb = la + ".", lb + "."
        if spec["rel"] in ("left of", "right of"):
            ca, cb = a["col"] + 1, b["col"] + 1
            side = "left of" if ca < cb else "right of" if ca > cb else "the same as"
            truth = side == spec["rel"]
            cmp = f"Column {ca} is {side} column {cb}"
        else:
            ra, rb = a["row"] + 1, b["row"] + 1
            side = "above" if ra < rb else "below" if ra > rb else "the same as"
            truth = side == spec["rel"]
            cmp = f"Row {ra} is {side} row {rb}"
        if ASKED:
            cmp += f"; asked {spec['rel']}"
        return f"{la} {lb} {cmp}, so the answer is {'yes' if truth else 'no'}.", "yes" if truth else "no", span
    if k == "extreme":
        parts = [f"{item(o)}, {o['size']}" for o in objs]
        pick = [o for o in objs if o["size"] == spec["which"]]
        sup = "largest" if spec["which"] == "large" else "smallest"
        if len(pick) != 1:
            return f"Checking sizes: {'; '.join(parts)}. No single shape is the {sup}.", "none", None
        o = pick[0] if slip is None else objs[slip]
        said = f"its colour is {o['colour']}" if spec["attr"] == "colour" else f"it is a {o['shape']}"
        head = f"Checking sizes: {'; '.join(parts)}. The only {spec['which']} shape is the {name_of(o)}"
        reading = "; ".join(parts[:objs.index(o) + 1]) if WALK else f"it is {o['size']}"
        check = _check(reading, o["size"] == spec["which"], spec["which"]) if CHECKS else ""
        if COUNTED:   # the answer before the check
            head += f", so {said}"
            return f"{head}{check}.", o[spec["attr"]], (len(head), len(head) + len(check))
        return f"{head}{check}, so {said}.", o[spec["attr"]], (len(head), len(head) + len(check)) if check else None
    if k == "arithmetic":
        f, s = spec["first"], spec["second"]
        scan1, n1 = _count_scan(objs, f.get("colour"), f.get("shape"))
        scan2, n2 = _count_scan(objs, s.get("colour"), s.get("shape"))
        head = (f"Looking for {_target(f.get('colour'), f.get('shape'))}: {scan1}. That is {n1}. "
                f"Looking for {_target(s.get('colour'), s.get('shape'))}: {scan2}. That is {n2}. ")
        if spec["op"] == "sum":
            return head + f"In total {n1} + {n2} = {n1 + n2}.", str(n1 + n2), None
        return head + f"The difference is {n1} - {n2} = {n1 - n2}.", str(n1 - n2), None
    raise ValueError(k)


def answer_of(spec, objs):
    """(the four-stage answer, its conclusion)."""
    reasoning, conclusion = solve(spec, objs)
    return answer_text(summary_text(spec), caption(objs), reasoning, conclusion), conclusion
