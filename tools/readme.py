"""Write README.md from nbs/index.ipynb (nbdev's `nbdev_readme` needs the Quarto binary, which these machines
cannot install; this does the same for the cells the index uses: markdown as is, code as fenced Python).

    python tools/readme.py          # write README.md
    python tools/readme.py --check  # fail if README.md is not what index.ipynb gives
"""
import json, re, sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent
DIRECTIVE = re.compile(r'^\s*#\s*\|\s*(.*)$')

def site_url():
    "The documentation site's address, from settings.ini (doc_host + doc_baseurl), with a trailing slash."
    import configparser
    c = configparser.ConfigParser(); c.read(root/'settings.ini')
    return c['DEFAULT']['doc_host'].rstrip('/') + '/' + c['DEFAULT']['doc_baseurl'].strip('/') + '/'

SITE = site_url()

def directives(src):
    return [m.group(1).strip() for m in map(DIRECTIVE.match, src.splitlines()) if m]

def render(nb_path):
    nb = json.loads(Path(nb_path).read_text(encoding='utf-8'))
    parts = []
    for cell in nb['cells']:
        src = ''.join(cell['source'])
        ds = directives(src)
        if any(d.startswith(('hide', 'include: false', 'default_exp', 'export')) for d in ds): continue
        body = '\n'.join(l for l in src.splitlines() if not DIRECTIVE.match(l)).strip()
        if not body: continue
        if cell['cell_type'] == 'markdown':
            body = re.sub(r'\]\((images/)', r'](nbs/\1', body)
            parts.append(re.sub(r'\]\((explorer/)', '](' + SITE + r'\1', body))     # the explorer lives on the docs site
        elif cell['cell_type'] == 'code' and 'echo: false' not in ds: parts.append(f'```python\n{body}\n```')
    header = '<!-- generated from nbs/index.ipynb by tools/readme.py: edit the notebook, not this file -->'
    return header + '\n\n' + '\n\n'.join(parts) + '\n'

if __name__ == '__main__':
    text, readme = render(root/'nbs'/'index.ipynb'), root/'README.md'
    if '--check' in sys.argv:
        if not readme.exists() or readme.read_text(encoding='utf-8') != text:
            sys.exit('README.md is stale: run `python tools/readme.py` and commit it')
        print('README.md is up to date')
    else:
        readme.write_text(text, encoding='utf-8')
        print('wrote', readme)
