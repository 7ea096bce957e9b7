#!/usr/bin/env python3
"""Reproduction of the pytorch/examples VAE (https://github.com/pytorch/examples/blob/main/vae/main.py)
for Debian's python3-torch 1.13, without torchvision.

Run it with /usr/bin/python3 (the interpreter that has python3-torch and python3-pil):

    /usr/bin/python3 bench/peers/vae_examples.py --threads 2 --json

What is the same as main.py:
  - model: fc1 784->400, fc21/fc22 400->20, fc3 20->400, fc4 400->784, ReLU, sigmoid output;
    default nn.Linear initialisation;
  - loss: F.binary_cross_entropy(recon, x, reduction='sum') + KLD, summed over the batch, on the
    grey-level pixels x in [0, 1] (no binarisation); one z sample per example, in training and test;
  - Adam(lr=1e-3), batch 128, shuffle=True, drop_last=False (469 batches, the last of 96);
  - data: a per-sample Dataset doing what torchvision.datasets.MNIST + transforms.ToTensor() do
    (uint8 28x28 -> PIL Image mode 'L' -> float tensor 1x28x28 / 255), through the default
    DataLoader collate; on CPU main.py passes no loader kwargs (num_workers=0);
  - test loss after each epoch = sum of the batch losses over the test set / 10000, with the test
    loader shuffled as in main.py; the per-10-batch progress prints are kept;
  - torch.manual_seed(seed), seed 1 by default.

What differs:
  - torchvision is not installed: MNIST is read from the original IDX files (or .idx.gz) in
    DATA_ROOT/mnist, DATA_ROOT = --data-root, else $DEEPGEN_DATA, else <repo>/data;
  - main.py writes results/reconstruction_N.png and results/sample_N.png every epoch (the
    reconstruction in test(), and decoding 64 z ~ N(0, I) after it). Both are skipped here: no
    image files are written, and the 64-sample decode is not run either;
  - --threads (torch.set_num_threads) and --json (one JSON summary line at the end) are added;
    CUDA is not used (the comparison is on CPU).

Some historical versions of main.py added the continuous-Bernoulli log-normaliser to the loss and
clamped the output to [1e-4, 1 - 1e-4]; the current one (and this script) uses plain BCE + KLD.
"""
import argparse
import gzip
import json
import os
import resource
import struct
import sys
import time

import numpy as np
import torch
import torch.utils.data
from PIL import Image
from torch import nn, optim
from torch.nn import functional as F


def default_data_root():
    env = os.environ.get("DEEPGEN_DATA")
    if env:
        return env
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "data")


def read_idx(path):
    """An IDX file (as torchvision's read_sn3_pascalvincent_tensor reads it) as a uint8 tensor."""
    if not os.path.isfile(path) and os.path.isfile(path + ".gz"):
        path = path + ".gz"
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != 0x08:
        raise ValueError("%s: not an unsigned-byte IDX file" % path)
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)
    return torch.from_numpy(arr.copy())


class MNIST(torch.utils.data.Dataset):
    """torchvision.datasets.MNIST(root, train, transform=transforms.ToTensor()), minus download."""

    def __init__(self, root, train=True):
        prefix = "train" if train else "t10k"
        d = os.path.join(root, "mnist")
        self.data = read_idx(os.path.join(d, prefix + "-images-idx3-ubyte"))
        self.targets = read_idx(os.path.join(d, prefix + "-labels-idx1-ubyte")).long()

    def __len__(self):
        return len(self.data)

    def __getitem__(self, index):
        img, target = self.data[index], int(self.targets[index])
        # torchvision: "doing this so that it is consistent with all other datasets
        # to return a PIL Image"
        img = Image.fromarray(img.numpy(), mode="L")
        return to_tensor(img), target


def to_tensor(pic):
    """transforms.ToTensor() for a mode-'L' PIL image: uint8 HxW -> float 1xHxW in [0, 1]."""
    img = torch.from_numpy(np.array(pic, np.uint8, copy=True))
    img = img.view(pic.size[1], pic.size[0], len(pic.getbands()))
    img = img.permute((2, 0, 1)).contiguous()
    return img.to(dtype=torch.get_default_dtype()).div(255)


class VAE(nn.Module):
    def __init__(self):
        super(VAE, self).__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        eps = torch.randn_like(std)
        return mu + eps * std

    def decode(self, z):
        h3 = F.relu(self.fc3(z))
        return torch.sigmoid(self.fc4(h3))

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, 784))
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


# Reconstruction + KL divergence losses summed over all elements and batch
def loss_function(recon_x, x, mu, logvar):
    BCE = F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction="sum")
    # Kingma and Welling 2014, appendix B: -KL = 0.5 * sum(1 + log(sigma^2) - mu^2 - sigma^2)
    KLD = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return BCE + KLD


def main():
    parser = argparse.ArgumentParser(description="VAE MNIST Example (pytorch/examples, CPU)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--log-interval", type=int, default=10)
    parser.add_argument("--threads", type=int, default=0,
                        help="torch.set_num_threads (0: leave the default)")
    parser.add_argument("--data-root", default=None,
                        help="folder holding mnist/ (default: $DEEPGEN_DATA or <repo>/data)")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON summary line at the end")
    args = parser.parse_args()

    t_start = time.perf_counter()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    device = torch.device("cpu")

    root = args.data_root or default_data_root()
    try:
        train_set, test_set = MNIST(root, train=True), MNIST(root, train=False)
    except (OSError, ValueError) as e:
        sys.exit("vae_examples.py: MNIST not readable under %s/mnist (%s); run ./scripts/setup.sh"
                 % (root, e))

    kwargs = {}  # main.py: {'num_workers': 1, 'pin_memory': True} only with CUDA
    train_loader = torch.utils.data.DataLoader(train_set, batch_size=args.batch_size,
                                               shuffle=True, **kwargs)
    test_loader = torch.utils.data.DataLoader(test_set, batch_size=args.batch_size,
                                              shuffle=True, **kwargs)

    model = VAE().to(device)
    optimizer = optim.Adam(model.parameters(), lr=1e-3)

    def train(epoch):
        model.train()
        train_loss = 0
        for batch_idx, (data, _) in enumerate(train_loader):
            data = data.to(device)
            optimizer.zero_grad()
            recon_batch, mu, logvar = model(data)
            loss = loss_function(recon_batch, data, mu, logvar)
            loss.backward()
            train_loss += loss.item()
            optimizer.step()
            if batch_idx % args.log_interval == 0:
                print("Train Epoch: {} [{}/{} ({:.0f}%)]\tLoss: {:.6f}".format(
                    epoch, batch_idx * len(data), len(train_loader.dataset),
                    100. * batch_idx / len(train_loader), loss.item() / len(data)))
        train_loss /= len(train_loader.dataset)
        print("====> Epoch: {} Average loss: {:.4f}".format(epoch, train_loss))
        return train_loss

    def test(epoch):
        model.eval()
        test_loss = 0
        with torch.no_grad():
            for data, _ in test_loader:
                data = data.to(device)
                recon_batch, mu, logvar = model(data)
                test_loss += loss_function(recon_batch, data, mu, logvar).item()
                # main.py saves results/reconstruction_<epoch>.png here: skipped.
        test_loss /= len(test_loader.dataset)
        print("====> Test set loss: {:.4f}".format(test_loss))
        return test_loss

    epochs = []
    t_loop = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        t0 = time.perf_counter()
        train_loss = train(epoch)
        t1 = time.perf_counter()
        test_loss = test(epoch)
        t2 = time.perf_counter()
        # main.py decodes 64 samples and saves results/sample_<epoch>.png here: skipped.
        epochs.append({"epoch": epoch, "train_s": t1 - t0, "test_s": t2 - t1,
                       "train_loss": train_loss, "test_loss": test_loss})
        sys.stdout.flush()
    t_end = time.perf_counter()

    if args.json:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        print(json.dumps({
            "peer": "pytorch/examples vae/main.py",
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "seed": args.seed,
            "epochs": args.epochs,
            "batch": args.batch_size,
            "per_epoch": epochs,
            "train_s": sum(e["train_s"] for e in epochs),
            "test_s": sum(e["test_s"] for e in epochs),
            "loop_s": t_end - t_loop,        # all epochs, train + test
            "total_s": t_end - t_start,      # from after the imports: includes loading MNIST
            "final_test_loss": epochs[-1]["test_loss"] if epochs else None,
            "peak_rss_mib": usage.ru_maxrss / 1024.0,  # Linux: ru_maxrss is in KiB
        }))


if __name__ == "__main__":
    main()
