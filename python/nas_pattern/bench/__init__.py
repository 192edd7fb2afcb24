"""`python -m nas_pattern.bench`: what the engine's hot loops cost, against the plain alternative.

Sections (trainer, controller, search and strategies by default; the others only when named):
  trainer     images/s and test accuracy of the plain PyTorch loop a user would write (torchvision's
              FashionMNIST, a DataLoader of 100, fp32) and of our child trainer; the ratio. Ours
              also in fp32 on a CPU, and with --deterministic on CUDA (what each costs). On a CPU
              also our layers against torch's and evaluation passes; there each figure is the
              median of --rounds rounds (default 3) that take the variants in turn.
  controller  milliseconds per policy() sample and per update_policy(), and their share of a child.
  search      children per minute of one fixed search (--children, default 32 CNN children) with
              the local executor, one child at a time and k at once in worker processes (k = 2, 4, 8
              on a GPU; on a CPU up to PyTorch's threads, which the workers share), and with Ray
              running k = 1, 2, 4, 8 children per device at once (per GPU, or sharing the CPUs when
              there is none); the ratios to one at a time. --executors picks them (default
              local,ray); where Ray is not installed, the local rows alone.
  strategies  on the measured table --table, every search strategy (REINFORCE with and without
              its baseline, actor-critic, random search, regularized evolution, Optuna's TPE) for
              --seeds seeds at each budget: best accuracy found, regret to the table's optimum, how
              often it found the optimum, reward variance. Prints the comparison and writes
              strategies.csv and strategies.png to --out.
  spaces      (only when named) what skip connections and depth buy: REINFORCE searches of 24 real
              children (fast trainer) in the plain 2-layer space, with depth 1-4, and with depth
              and skips (docs/examples/cnn-skips.json), --seeds seeds each (default 3): best
              validation accuracy and its size; then the size-aware reward at two targets.
  tabulate    (only when named) train every architecture of --space (default: the 576-architecture
              CNN space) at a fixed budget and write the table --table (resumes where an interrupted
              run stopped).
  tune        (only when named) the REINFORCE agent's hyperparameters, varied one at a time around
              the defaults on the tuning seeds (0 .. --seeds-1); mean regret at budget 100 each.
              The study reports on other seeds (--first-seed, default 100).
  sharing     (only when named) how well shared weights rank architectures: the supernet of each
              measured table's space (--table, or the committed CNN and RNN tables) trained on the
              table's training images (--shared-epochs passes, default 10), every architecture scored with it;
              Kendall's tau, Spearman's rho and the top-10 overlap against the table, per supernet seed
              (--seeds, default 5) and their means with 95% intervals, beside the table's seed-to-seed
              tau (with its bootstrap interval) and tau over it (also with that uncertainty); the
              derivation's pick by K; one module per candidate against weight entanglement,
              seed for seed (CNN tables); the pairs of the first seed as CSV and a scatter plot.
  sharing-search  (only when named) the default from-scratch search against REINFORCE and random
              search with shared weights at the same wall time, --seeds seeds (default 5): wall
              time, architectures evaluated, the pick's test accuracy, means with 95% intervals.
  retraining  (only when named) what python -m nas_pattern.train adds to each epoch (its checkpoint,
              training.pt, and a pass over the validation images), in ms and as a share of an epoch
              of all 55,000 training images, for two CNNs; medians of --rounds.
  reading     (only when named) how fast a folder dataset's image files are read (--dataset folder,
              predict's image files): 1,000 each of 28x28 PNGs, 128x128 PNGs and 400x300 JPEG photos
              made from the test images, read one at a time and by default (threads where they pay);
              images/s, medians of --rounds, and the ratio.
  precision   (only when named) whether load changes the CPU precision "auto" chooses: --seeds
              fresh probes (default 5) per child kind, idle and beside CPU hogs, by the probe's
              median rule and by the best-of-3 rule it replaced.
"""
