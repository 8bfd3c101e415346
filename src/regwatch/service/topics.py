"""The classifier a config asks for: its topic packs and files, and the learned stage (`[topics] model`).

Kept apart from `app.py` (which imports Scrapy) so that the commands that only tag or explain load fast.
"""

from __future__ import annotations

from ..pipeline.classify import Classifier, PackError, load_topics
from .config import Config, ConfigError, check_topics


def load_classifier(cfg: Config, rules_only: bool = False) -> Classifier:
    from ..pipeline.learned import Model, ModelError, bundled_model

    try:
        topics = load_topics(cfg.topics.packs, cfg.topics.files)
        model = None
        if rules_only or not cfg.topics.model:
            pass
        elif cfg.topics.model == "auto":
            model = None if cfg.topics.files else bundled_model(cfg.topics.packs, topics)
        else:
            model = Model.load(cfg.topics.model, topics)
        classifier = Classifier(topics, model=model)
    except ModelError as e:
        raise ConfigError(f"{cfg.path}: topics.model: {e}") from None
    except PackError as e:
        raise ConfigError(f"{cfg.path}: topics: {e}") from None
    check_topics(cfg, {t.id for t in classifier.topics})
    return classifier
