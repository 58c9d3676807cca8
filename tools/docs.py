"""Process the notebooks for the documentation site, everything up to Quarto's render.

`nbdev_docs`/`nbdev_proc_nbs` first try to download Quarto, which these machines cannot do; this runs the same
nbdev steps without that: refresh nbs/nbdev.yml, the symbol index and sidebar, then nbdev's notebook processors
(show_doc, directives, frontmatter) into _proc/. It fails if a notebook does not process or a page is missing.
"""
import sys
from pathlib import Path
from nbdev.config import get_config
from nbdev.quarto import refresh_quarto_yml, nbdev_sidebar
from nbdev.serve import proc_nbs
import nbdev.doclinks

cfg = get_config()
refresh_quarto_yml()
nbdev.doclinks._build_modidx()
nbdev_sidebar.__wrapped__(path=cfg.nbs_path)
cache = Path(proc_nbs(cfg.nbs_path, n_workers=0))
nbs = sorted(p.name for p in cfg.nbs_path.glob('*.ipynb'))
missing = [n for n in nbs if not (cache/n).exists()]
for f in ('_quarto.yml', 'nbdev.yml', 'sidebar.yml', 'styles.css'):
    if not (cache/f).exists(): missing.append(f)
if missing: sys.exit(f'docs processing did not produce: {missing}')
print(f'processed {len(nbs)} notebooks into {cache}: ready for `quarto render`')
