"""Names for containers created without one: ``adjective_surname``, as Docker makes them.

The words follow the style of moby's ``namesgenerator`` (adjectives, and surnames of notable
scientists and engineers); the lists here are dockyard's own selection.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

ADJECTIVES = (
    "admiring", "affectionate", "agitated", "amazing", "angry", "awesome", "beautiful",
    "blissful", "bold", "brave", "busy", "charming", "clever", "compassionate", "competent",
    "confident", "cool", "cranky", "crazy", "dazzling", "determined", "dreamy", "eager",
    "ecstatic", "elastic", "elated", "elegant", "eloquent", "epic", "exciting", "fervent",
    "festive", "flamboyant", "focused", "friendly", "frosty", "funny", "gallant", "gifted",
    "goofy", "gracious", "great", "happy", "hardcore", "heuristic", "hopeful", "hungry",
    "infallible", "inspiring", "intelligent", "interesting", "jolly", "jovial", "keen", "kind",
    "laughing", "loving", "lucid", "magical", "modest", "musing", "mystifying", "naughty",
    "nervous", "nice", "nifty", "nostalgic", "objective", "optimistic", "peaceful", "pedantic",
    "pensive", "practical", "priceless", "quirky", "quizzical", "recursing", "relaxed",
    "reverent", "romantic", "sad", "serene", "sharp", "silly", "sleepy", "stoic", "strange",
    "stupefied", "suspicious", "sweet", "tender", "thirsty", "trusting", "unruffled", "upbeat",
    "vibrant", "vigilant", "vigorous", "wizardly", "wonderful", "xenodochial", "youthful",
    "zealous", "zen",
)

SURNAMES = (
    "agnesi", "albattani", "allen", "archimedes", "babbage", "banach", "bardeen", "bartik",
    "bell", "blackwell", "bohr", "booth", "borg", "bose", "brahmagupta", "brattain", "burnell",
    "cannon", "carson", "cartwright", "cerf", "chandrasekhar", "chatelet", "clarke", "colden",
    "cori", "curie", "darwin", "davinci", "dijkstra", "dirac", "edison", "einstein", "elion",
    "engelbart", "euclid", "euler", "faraday", "fermat", "fermi", "feynman", "franklin",
    "galileo", "gates", "gauss", "goldberg", "goodall", "hamilton", "hawking", "heisenberg",
    "hermann", "hertz", "hodgkin", "hofstadter", "hopper", "hugle", "hypatia", "jackson",
    "jennings", "johnson", "joliot", "kalam", "kepler", "khorana", "knuth", "kowalevski",
    "lalande", "lamarr", "lamport", "leakey", "leavitt", "lederberg", "lehmann", "lewin",
    "liskov", "lovelace", "lumiere", "mahavira", "mayer", "mccarthy", "mcclintock", "meitner",
    "mendel", "minsky", "mirzakhani", "morse", "napier", "nash", "neumann", "newton",
    "nightingale", "nobel", "noether", "northcutt", "noyce", "pascal", "pasteur", "payne",
    "perlman", "pike", "poincare", "ptolemy", "raman", "ramanujan", "ride", "ritchie",
    "robinson", "rosalind", "saha", "sammet", "shannon", "shaw", "shirley", "sinoussi",
    "snyder", "spence", "stonebraker", "swanson", "tesla", "thompson", "torvalds", "turing",
    "varahamihira", "villani", "wescoff", "wiles", "williams", "wilson", "wing", "wright",
    "wu", "yalow", "yonath",
)


def generate(taken: Callable[[str], bool], retries: int = 10) -> str:
    """A free name: a random pair, then (as dockerd does after collisions) with a digit."""
    for attempt in range(retries):
        name = f"{secrets.choice(ADJECTIVES)}_{secrets.choice(SURNAMES)}"
        if attempt > 3:
            name += str(secrets.randbelow(10))
        if not taken(name):
            return name
    return f"{secrets.choice(ADJECTIVES)}_{secrets.token_hex(4)}"
