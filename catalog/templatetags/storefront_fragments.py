"""`{% fragment "name" a b ... %}…{% endfragment %}`: markup that depends only
on the code, the language and the values named (a, b, …), rendered once per
process for each combination and then copied (issue #11: the shopper's tab
bar cost about as much Python as the home page's whole shelf).

Only for markup that holds nothing about the shopper, the catalog or the
moment: everything per request stays outside the tag (the cart badge sits
between two fragments in templates/base.html). The templates are part of the
code, so a deploy, which restarts the processes, renders them anew; the
number of combinations is bounded and past the bound fragments are rendered
every time, as without the tag. A settings override (tests) drops them all.
"""

from __future__ import annotations

from django import template
from django.core.signals import setting_changed

register = template.Library()

LIMIT = 512
_rendered: dict[tuple, str] = {}


class FragmentNode(template.Node):
    def __init__(self, nodelist, name, vary):
        self.nodelist = nodelist
        self.name = name
        self.vary = vary

    def render(self, context):
        key = (self.name, *(str(value.resolve(context)) for value in self.vary))
        found = _rendered.get(key)
        if found is None:
            found = self.nodelist.render(context)
            if len(_rendered) < LIMIT:
                _rendered[key] = found
        return found


@register.tag("fragment")
def do_fragment(parser, token):
    bits = token.split_contents()
    if len(bits) < 2:
        raise template.TemplateSyntaxError("{% fragment %} needs a name")
    nodelist = parser.parse(("endfragment",))
    parser.delete_first_token()
    return FragmentNode(nodelist, bits[1], [parser.compile_filter(bit) for bit in bits[2:]])


def forget(**_) -> None:
    """Drop every rendered fragment: a test changed a setting (static files,
    URLs, languages) that they may depend on."""
    _rendered.clear()


setting_changed.connect(forget, dispatch_uid="catalog.storefront_fragments")
