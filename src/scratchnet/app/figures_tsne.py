"""t-SNE maps of what the network has learned: the embedding (scikit-learn's ``TSNE``) and its
scatter figure, for the report."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # matplotlib is imported inside the figure function, when it runs
    from matplotlib.figure import Figure


def tsne_embeddings(
    features: dict[str, np.ndarray], seed: int = 0, n_threads: int | None = 1
) -> dict[str, np.ndarray]:
    """Two-dimensional t-SNE maps (PCA start, fixed ``random_state``) of each feature matrix.

    ``max_iter=500`` instead of scikit-learn's 1,000 halves the cost (the gradient iterations
    are almost all of it); on Fashion-MNIST the maps look the same after 500.

    The Barnes-Hut gradient runs in OpenMP threads that meet at a barrier every iteration; on a
    machine whose cores are busy with other work a waiting thread stalls all of them (measured:
    1,500 points on 2 shared cores took 28 s with 2 threads, 12 s with 1). Hence one thread by
    default; ``n_threads=None`` lets OpenMP use every core.

    Parameters
    ----------
    features : dict of str to ndarray of shape (n_samples, n_features)
    seed : int, default=0
        t-SNE's ``random_state``: the same seed gives the same map.
    n_threads : int or None, default=1

    Returns
    -------
    dict of str to ndarray of shape (n_samples, 2)
    """
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits

    out = {}
    for name, F in features.items():
        F = np.asarray(F, dtype=np.float32)
        perplexity = float(min(30.0, max(2.0, (F.shape[0] - 1) / 3)))
        tsne = TSNE(
            n_components=2,
            init="pca",
            random_state=seed,
            perplexity=perplexity,
            learning_rate="auto",
            max_iter=500,
        )
        with threadpool_limits(limits=n_threads, user_api="openmp"):
            out[name] = tsne.fit_transform(F)  # (N, 2)
    return out


def tsne_figure(embeddings: dict[str, np.ndarray], y: np.ndarray, class_names: list[str]) -> Figure:
    """One scatter panel per embedding, points coloured by class, one legend for all panels."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.0 * len(embeddings), 6.6), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(embeddings)))
    colors = [f"C{i % 10}" for i in range(len(class_names))]
    for ax, (title, Z) in zip(axes, embeddings.items(), strict=True):
        for c, name in enumerate(class_names):
            sel = y == c
            ax.scatter(
                Z[sel, 0], Z[sel, 1], s=7, color=colors[c], alpha=0.8, linewidths=0, label=name
            )
        ax.set_title(title, fontsize=12)
        ax.set_xticks([])
        ax.set_yticks([])
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(
        handles,
        labels,
        loc="outside lower center",
        ncol=min(5, len(class_names)),
        markerscale=2.5,
        fontsize=10,
        frameon=False,
    )
    fig.suptitle(f"t-SNE maps of {len(y):,} test images, coloured by true class", fontsize=13)
    return fig
